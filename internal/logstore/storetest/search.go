package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// filterRecords returns the search dataset of org "org-f" (queued after
// t0, in hours): the final record of each round, in no particular order,
// plus one round of another organization. f-08, f-09 and f-10 share a
// queued_at and start in the opposite order of their ids; so do f-05 and
// f-06.
func filterRecords(t0 time.Time) []*envelope.AttemptRecord {
	const hostA, hostB = "a.example.com", "b.example.com"
	rows := []struct {
		id        string
		workflow  bool
		eventType string
		host      string
		status    int
		decision  string
		queued    time.Duration
		start     time.Duration
	}{
		{"f-09", false, "enrich_lead", hostA, 200, delivered, 6 * time.Hour, 2 * time.Minute},
		{"f-01", false, "enrich_lead", hostA, 200, delivered, 1 * time.Hour, 0},
		{"f-04", true, envelope.WorkflowEventType, hostA, 0, undelivered, 4 * time.Hour, 0},
		{"f-06", false, "enrich_lead", hostA, 500, undelivered, 5 * time.Hour, 0},
		{"f-02", false, "find_email", hostA, 503, retry, 2 * time.Hour, 0},
		{"f-10", false, "enrich_lead", hostA, 200, delivered, 6 * time.Hour, 1 * time.Minute},
		{"f-07", false, "enrich_lead", hostA, 302, retry, 150 * time.Minute, 0},
		{"f-03", true, envelope.WorkflowEventType, hostB, 404, undelivered, 3 * time.Hour, 0},
		{"f-08", false, "enrich_lead", hostA, 200, delivered, 6 * time.Hour, 3 * time.Minute},
		{"f-05", false, "enrich_lead", hostB, 204, delivered, 5 * time.Hour, 5 * time.Minute},
	}
	var recs []*envelope.AttemptRecord
	for _, r := range rows {
		base := Record("org-f", r.id, t0.Add(r.queued))
		if r.workflow {
			base = workflowRecord("org-f", r.id, "run-"+r.id, t0.Add(r.queued))
		}
		base.EventType, base.Host = r.eventType, r.host
		rec := attempt(base, 0, 1, r.decision, r.status)
		rec.StartedAt = rec.StartedAt.Add(r.start)
		rec.FinishedAt = rec.StartedAt.Add(150 * time.Millisecond)
		recs = append(recs, rec)
	}
	return append(recs, attempt(Record("org-other", "f-other", t0.Add(6*time.Hour)), 0, 1, delivered, 200))
}

// testSearchFilters: each filter alone and combined, newest first by
// (queued_at, event_id) descending, ties included.
func testSearchFilters(t *testing.T, s suite) {
	st := s.store(t)
	t0 := fixedNow().Add(-12 * time.Hour)
	write(t, st, filterRecords(t0)...)
	h := func(d time.Duration) time.Time { return t0.Add(d) }

	for _, tc := range []struct {
		name string
		q    logstore.Query
		want []string
	}{
		{"all", logstore.Query{}, []string{"f-10", "f-09", "f-08", "f-06", "f-05", "f-04", "f-03", "f-07", "f-02", "f-01"}},
		{"state delivered", logstore.Query{State: "delivered"}, []string{"f-10", "f-09", "f-08", "f-05", "f-01"}},
		{"state retrying", logstore.Query{State: "retrying"}, []string{"f-07", "f-02"}},
		{"state undelivered", logstore.Query{State: "undelivered"}, []string{"f-06", "f-04", "f-03"}},
		{"source workflow", logstore.Query{Source: "workflow"}, []string{"f-04", "f-03"}},
		{"source job", logstore.Query{Source: "job"}, []string{"f-10", "f-09", "f-08", "f-06", "f-05", "f-07", "f-02", "f-01"}},
		{"event_type", logstore.Query{EventType: "find_email"}, []string{"f-02"}},
		{"event_type workflow", logstore.Query{EventType: envelope.WorkflowEventType}, []string{"f-04", "f-03"}},
		{"host", logstore.Query{Host: "b.example.com"}, []string{"f-05", "f-03"}},
		{"status 2xx", logstore.Query{StatusClass: "2xx"}, []string{"f-10", "f-09", "f-08", "f-05", "f-01"}},
		{"status 3xx", logstore.Query{StatusClass: "3xx"}, []string{"f-07"}},
		{"status 4xx", logstore.Query{StatusClass: "4xx"}, []string{"f-03"}},
		{"status 5xx", logstore.Query{StatusClass: "5xx"}, []string{"f-06", "f-02"}},
		{"status none", logstore.Query{StatusClass: "none"}, []string{"f-04"}},
		{"from inclusive to exclusive", logstore.Query{From: h(3 * time.Hour), To: h(5 * time.Hour)}, []string{"f-04", "f-03"}},
		{"from only", logstore.Query{From: h(5 * time.Hour)}, []string{"f-10", "f-09", "f-08", "f-06", "f-05"}},
		{"to only", logstore.Query{To: h(2 * time.Hour)}, []string{"f-01"}},
		{"to one microsecond after", logstore.Query{To: h(2*time.Hour + time.Microsecond)}, []string{"f-02", "f-01"}},
		{"job undelivered on host a", logstore.Query{Source: "job", State: "undelivered", Host: "a.example.com"}, []string{"f-06"}},
		{"2xx on host a", logstore.Query{StatusClass: "2xx", Host: "a.example.com"}, []string{"f-10", "f-09", "f-08", "f-01"}},
		{"delivered on host a in a window", logstore.Query{State: "delivered", Host: "a.example.com", From: h(time.Hour), To: h(6 * time.Hour)}, []string{"f-01"}},
		{"nothing matches", logstore.Query{EventType: "no_such_type"}, nil},
	} {
		tc.q.OrgID = "org-f"
		p := search(t, st, tc.q)
		checkList(t, "Search("+tc.name+")", ids(p.Deliveries), tc.want)
		if p.Next != "" {
			t.Errorf("Search(%s).Next = %q, want empty (one page)", tc.name, p.Next)
		}
	}
}

// testPaging: pages of 100 over 250 rounds (ties on queued_at across the
// page boundaries) are the one limit-500 answer cut in three; rounds
// written between pages, newer than the first page, change nothing.
func testPaging(t *testing.T, s suite) {
	st := s.store(t)
	const org, n = "org-page", 250
	t0 := fixedNow().Add(-20 * time.Hour)
	var recs []*envelope.AttemptRecord
	for i := range n {
		// Seven rounds per second, so that ties straddle both page
		// boundaries (checked below).
		recs = append(recs, Record(org, fmt.Sprintf("pg-%03d", i), t0.Add(time.Duration(i/7)*time.Second)))
	}
	for batch := range slices.Chunk(recs, 50) {
		write(t, st, batch...)
	}
	want := slices.SortedFunc(slices.Values(recs), func(a, b *envelope.AttemptRecord) int {
		return cmp.Or(b.QueuedAt.Compare(a.QueuedAt), cmp.Compare(b.EventID, a.EventID))
	})
	if !want[99].QueuedAt.Equal(want[100].QueuedAt) || !want[199].QueuedAt.Equal(want[200].QueuedAt) {
		t.Fatalf("suite bug: no tie on queued_at across a page boundary")
	}
	wantIDs := make([]string, n)
	for i, r := range want {
		wantIDs[i] = r.EventID
	}

	all := search(t, st, logstore.Query{OrgID: org, Limit: logstore.MaxLimit})
	checkList(t, "Search(limit 500)", ids(all.Deliveries), wantIDs)
	if all.Next != "" {
		t.Errorf("Search(limit 500).Next = %q, want empty", all.Next)
	}
	def := search(t, st, logstore.Query{OrgID: org})
	checkList(t, "Search(default limit)", ids(def.Deliveries), wantIDs[:logstore.DefaultLimit])
	if def.Next == "" {
		t.Errorf("Search(default limit) of %d rounds: Next is empty", n)
	}

	p1 := search(t, st, logstore.Query{OrgID: org, Limit: 100})
	// Newer rounds written after the first page do not show up later.
	var newer []*envelope.AttemptRecord
	for i := range 10 {
		newer = append(newer, Record(org, fmt.Sprintf("pg-new-%02d", i), fixedNow().Add(-time.Duration(i)*time.Minute)))
	}
	write(t, st, newer...)
	p2 := search(t, st, logstore.Query{OrgID: org, Limit: 100, Cursor: p1.Next})
	p3 := search(t, st, logstore.Query{OrgID: org, Limit: 100, Cursor: p2.Next})
	for i, p := range []*logstore.Page{p1, p2, p3} {
		checkList(t, fmt.Sprintf("page %d", i+1), ids(p.Deliveries), wantIDs[100*i:min(100*(i+1), n)])
		if last := i == 2; (p.Next == "") != last {
			t.Errorf("page %d: Next = %q, want it empty only on the last page", i+1, p.Next)
		}
	}
	seen := map[string]bool{}
	for _, d := range slices.Concat(p1.Deliveries, p2.Deliveries, p3.Deliveries) {
		if seen[d.EventID] {
			t.Errorf("%s is on two pages", d.EventID)
		}
		seen[d.EventID] = true
	}
	if len(seen) != n {
		t.Errorf("the pages hold %d distinct rounds, want %d", len(seen), n)
	}

	// An operator search (OrgID "") pages the same way.
	o1 := search(t, st, logstore.Query{Limit: 200})
	o2 := search(t, st, logstore.Query{Limit: 200, Cursor: o1.Next})
	checkList(t, "operator pages", ids(slices.Concat(o1.Deliveries, o2.Deliveries)), ids(search(t, st, logstore.Query{Limit: 500}).Deliveries))
	if o2.Next != "" {
		t.Errorf("operator page 2: Next = %q, want empty", o2.Next)
	}
}

// testQueryErrors: every bad query is ErrInvalidQuery, a *QueryError
// naming each bad field.
func testQueryErrors(t *testing.T, s suite) {
	st := s.store(t)
	queued := fixedNow().Add(-time.Hour)
	write(t, st, Record("org-qa", "qe-1", queued), Record("org-qa", "qe-2", queued.Add(time.Second)), Record("org-qb", "qe-3", queued))
	first := search(t, st, logstore.Query{OrgID: "org-qa", Limit: 1})
	if first.Next == "" {
		t.Fatalf("Search(org-qa, limit 1) of 2 rounds: Next is empty")
	}
	checkList(t, "org-qa page 2", ids(search(t, st, logstore.Query{OrgID: "org-qa", Limit: 1, Cursor: first.Next}).Deliveries), []string{"qe-1"})

	from := fixedNow().Add(-2 * time.Hour)
	for _, tc := range []struct {
		name   string
		q      logstore.Query
		fields []string
	}{
		{"limit 501", logstore.Query{Limit: logstore.MaxLimit + 1}, []string{"limit"}},
		{"limit -1", logstore.Query{Limit: -1}, []string{"limit"}},
		{"garbage cursor", logstore.Query{Cursor: "not-a-cursor!"}, []string{"cursor"}},
		{"cursor of org-qa with org-qb", logstore.Query{OrgID: "org-qb", Cursor: first.Next}, []string{"cursor"}},
		{"cursor of org-qa with no org", logstore.Query{Cursor: first.Next}, []string{"cursor"}},
		{"state", logstore.Query{State: "bogus"}, []string{"state"}},
		{"source", logstore.Query{Source: "bogus"}, []string{"source"}},
		{"status_class", logstore.Query{StatusClass: "6xx"}, []string{"status_class"}},
		{"to before from", logstore.Query{From: from, To: from.Add(-time.Second)}, []string{"to"}},
		{"to equal to from", logstore.Query{From: from, To: from}, []string{"to"}},
		{"several", logstore.Query{Limit: 501, State: "bogus", StatusClass: "6xx", Cursor: "x"}, []string{"limit", "state", "status_class", "cursor"}},
	} {
		p, err := st.Search(t.Context(), tc.q)
		if err == nil {
			t.Errorf("Search(%s) = %d rounds, nil error; want ErrInvalidQuery", tc.name, len(p.Deliveries))
			continue
		}
		checkQueryError(t, "Search("+tc.name+")", err, tc.fields...)
	}
}
