package storetest

import (
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
)

// testReplays: a later replay supersedes the earlier rounds for Search,
// Find and Counts, whatever order the records arrive in; Timeline keeps
// every round.
func testReplays(t *testing.T, s suite) {
	st := s.store(t)
	const org = "org-rep"
	queued := fixedNow().Add(-10 * time.Hour)
	a0, a1 := Record(org, "rep-a", queued), Record(org, "rep-a", queued.Add(time.Hour))
	a0r1, a0r2 := attempt(a0, 0, 1, retry, 503), attempt(a0, 0, 2, undelivered, 500)
	a1r1 := attempt(a1, 1, 1, delivered, 200)
	q := logstore.Query{OrgID: org}

	write(t, st, a0r2)
	checkList(t, "Search before the replay", keys(search(t, st, q).Deliveries), []string{"rep-a/0"})

	write(t, st, a1r1)
	checkTimeline(t, st, timelineOf(superseded(roundOf(a0r2)), roundOf(a1r1)))
	checkList(t, "Search after the replay", keys(search(t, st, q).Deliveries), []string{"rep-a/1"})

	// A late record of replay 0 is stored in its round, which stays
	// superseded.
	write(t, st, a0r1)
	checkTimeline(t, st, timelineOf(superseded(roundOf(a0r1, a0r2)), roundOf(a1r1)))
	checkEqual(t, "Search after a late record of replay 0", search(t, st, q).Deliveries, []logstore.Delivery{roundOf(a1r1).Delivery})
	checkList(t, "Find(event_id) after a late record of replay 0", keys(find(t, st, logstore.ByEventID, "rep-a", org)), []string{"rep-a/1"})
	checkList(t, "Search(state undelivered)", keys(search(t, st, logstore.Query{OrgID: org, State: "undelivered"}).Deliveries), nil)

	// Replay 1 recorded before any record of replay 0: replay 0 is
	// superseded from its first record.
	b0, b1 := Record(org, "rep-b", queued.Add(2*time.Hour)), Record(org, "rep-b", queued.Add(3*time.Hour))
	b1r1, b0r1 := attempt(b1, 1, 1, retry, 503), attempt(b0, 0, 1, delivered, 200)
	write(t, st, b1r1)
	write(t, st, b0r1)
	checkTimeline(t, st, timelineOf(superseded(roundOf(b0r1)), roundOf(b1r1)))
	checkList(t, "Search", keys(search(t, st, q).Deliveries), []string{"rep-b/1", "rep-a/1"})
	checkList(t, "Search(state delivered)", keys(search(t, st, logstore.Query{OrgID: org, State: "delivered"}).Deliveries), []string{"rep-a/1"})
	checkList(t, "Find(task_id)", keys(find(t, st, logstore.ByTaskID, "task-rep-b", "")), []string{"rep-b/1"})
	checkCounts(t, "Counts", counts(t, st, org, allFrom(), allTo()), 1, 1, 0)
}

// testOrgScoping: Timeline and Search of an organization see only its
// events; "" sees all.
func testOrgScoping(t *testing.T, s suite) {
	st := s.store(t)
	queued := fixedNow().Add(-8 * time.Hour)
	a1, a2 := Record("org-a", "scope-a1", queued), Record("org-a", "scope-a2", queued.Add(time.Minute))
	b1 := Record("org-b", "scope-b1", queued.Add(2*time.Minute))
	write(t, st, a1, a2, b1)

	want := timelineOf(roundOf(a1))
	checkEqual(t, `Timeline("org-a", "scope-a1")`, timeline(t, st, "org-a", "scope-a1"), want)
	checkEqual(t, `Timeline("", "scope-a1")`, timeline(t, st, "", "scope-a1"), want)
	checkNotFound(t, st, "org-b", "scope-a1")
	checkNotFound(t, st, "org-a", "scope-b1")
	checkNotFound(t, st, "org-a", "scope-missing")
	checkNotFound(t, st, "", "scope-missing")

	for _, tc := range []struct {
		org  string
		want []string
	}{
		{"org-a", []string{"scope-a2", "scope-a1"}},
		{"org-b", []string{"scope-b1"}},
		{"org-c", nil},
		{"", []string{"scope-b1", "scope-a2", "scope-a1"}},
	} {
		p := search(t, st, logstore.Query{OrgID: tc.org})
		checkList(t, "Search(OrgID "+tc.org+")", ids(p.Deliveries), tc.want)
		if p.Next != "" {
			t.Errorf("Search(OrgID %q).Next = %q, want empty (last page)", tc.org, p.Next)
		}
	}
}
