package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

const (
	retry       = envelope.DecisionRetry
	delivered   = envelope.DecisionDelivered
	undelivered = envelope.DecisionUndelivered
)

// testRoundTrip: every field of a record comes back, in the round and in
// its attempt; the round takes its latest fields from the highest attempt.
func testRoundTrip(t *testing.T, s suite) {
	t.Run("job", func(t *testing.T) {
		st := s.store(t)
		base := Record("org-rt", "evt-rt-job", fixedNow().Add(-3*time.Hour))
		// Nanoseconds and a zone: the store keeps microseconds, in UTC.
		base.QueuedAt = base.QueuedAt.Add(987_654_321).In(time.FixedZone("CET", 3600))
		a1 := attempt(base, 0, 1, retry, 503)
		a1.ResponseExcerpt = "Service indisponible — réessayez plus tard 🙂 服务暂不可用"
		a1.Error = "HTTP 503: Service indisponible"
		a1.DurationMS = 1234.5
		a2 := attempt(base, 0, 2, delivered, 200)
		a2.ResponseExcerpt = `{"received":true}`

		write(t, st, a1)
		checkTimeline(t, st, timelineOf(roundOf(a1)))
		write(t, st, a2)
		want := roundOf(a1, a2)
		checkTimeline(t, st, timelineOf(want))
		if want.Attempts != 2 || want.State != envelope.StateDelivered || !want.Final || want.NextAttemptAt != nil {
			t.Fatalf("suite bug: model round %+v", want.Delivery)
		}

		p := search(t, st, logstore.Query{OrgID: "org-rt"})
		checkEqual(t, "Search(org-rt).Deliveries", p.Deliveries, []logstore.Delivery{want.Delivery})
		checkEqual(t, "Find(event_id)", find(t, st, logstore.ByEventID, "evt-rt-job", "org-rt"), []logstore.Delivery{want.Delivery})
	})
	t.Run("workflow", func(t *testing.T) {
		st := s.store(t)
		queued := fixedNow().Add(-2 * time.Hour)
		ok := workflowRecord("org-rt", "evt-rt-wf-ok", "run-ok", queued)
		ok1, ok2 := attempt(ok, 0, 1, retry, 500), attempt(ok, 0, 2, delivered, 200)
		ok2.ResponseExcerpt = `{"ok":true}`
		// Undelivered without a response: the block columns point at 0,
		// "" and false, which are not nil.
		failed := attempt(workflowRecord("org-rt", "evt-rt-wf-failed", "run-failed", queued), 0, 1, undelivered, 0)
		if ok1.WebhookSuccess != nil || ok2.WebhookSuccess == nil || !*ok2.WebhookSuccess ||
			failed.WebhookSuccess == nil || *failed.WebhookSuccess || failed.WebhookStatusCode == nil {
			t.Fatalf("suite bug: block columns of the workflow records")
		}

		write(t, st, ok1)
		checkTimeline(t, st, timelineOf(roundOf(ok1)))
		write(t, st, ok2, failed)
		want := roundOf(ok1, ok2)
		checkTimeline(t, st, timelineOf(want))
		checkTimeline(t, st, timelineOf(roundOf(failed)))
		checkEqual(t, "Find(run_id)", find(t, st, logstore.ByRunID, "run-ok", ""), []logstore.Delivery{want.Delivery})
	})
}

// testIdempotent: a batch written twice, or overlapping one written
// before, leaves one attempt row per (event, replay, attempt) and the
// rounds unchanged; an attempt is written once.
func testIdempotent(t *testing.T, s suite) {
	st := s.store(t)
	queued := fixedNow().Add(-5 * time.Hour)
	e1, e2, e3 := Record("org-idem", "idem-1", queued), Record("org-idem", "idem-2", queued.Add(time.Minute)), Record("org-idem", "idem-3", queued.Add(2*time.Minute))
	e1a1, e1a2 := attempt(e1, 0, 1, retry, 503), attempt(e1, 0, 2, delivered, 200)
	e2a1, e2a2 := attempt(e2, 0, 1, retry, 500), attempt(e2, 0, 2, retry, 502)
	e3a1 := attempt(e3, 0, 1, delivered, 200)

	write(t, st, e1a1, e1a2, e2a1)
	write(t, st, e1a1, e1a2, e2a1)
	checkTimeline(t, st, timelineOf(roundOf(e1a1, e1a2)))
	checkTimeline(t, st, timelineOf(roundOf(e2a1)))

	write(t, st, e2a1, e2a2, e3a1)
	checkTimeline(t, st, timelineOf(roundOf(e1a1, e1a2)))
	checkTimeline(t, st, timelineOf(roundOf(e2a1, e2a2)))
	checkTimeline(t, st, timelineOf(roundOf(e3a1)))

	// A record whose key is stored changes nothing, even if its other
	// fields differ (the attempt row is written once).
	changed := *e1a2
	changed.StatusCode, changed.ResponseExcerpt, changed.DurationMS = 201, "changed", 1
	changedFirst := *e1a1
	changedFirst.StartedAt = changedFirst.StartedAt.Add(-time.Hour)
	write(t, st, &changed, &changedFirst)
	checkTimeline(t, st, timelineOf(roundOf(e1a1, e1a2)))

	p := search(t, st, logstore.Query{OrgID: "org-idem"})
	checkList(t, "Search(org-idem)", ids(p.Deliveries), []string{"idem-3", "idem-2", "idem-1"})
}

// testOutOfOrder: attempts stored out of order leave the round at its
// highest attempt, first_attempt_at at its earliest.
func testOutOfOrder(t *testing.T, s suite) {
	st := s.store(t)
	base := Record("org-ooo", "ooo-1", fixedNow().Add(-4*time.Hour))
	a1, a2, a3 := attempt(base, 0, 1, retry, 503), attempt(base, 0, 2, retry, 502), attempt(base, 0, 3, undelivered, 500)

	write(t, st, a3)
	checkTimeline(t, st, timelineOf(roundOf(a3)))
	write(t, st, a1)
	checkTimeline(t, st, timelineOf(roundOf(a1, a3)))
	write(t, st, a2)
	want := roundOf(a1, a2, a3)
	checkTimeline(t, st, timelineOf(want))
	if want.Attempts != 3 || want.State != envelope.StateUndelivered || !want.FirstAttemptAt.Equal(logstore.Truncate(a1.StartedAt)) {
		t.Fatalf("suite bug: model round %+v", want.Delivery)
	}
	checkEqual(t, "Search(org-ooo).Deliveries", search(t, st, logstore.Query{OrgID: "org-ooo"}).Deliveries, []logstore.Delivery{want.Delivery})
}

// testBatch: one batch with several events, several attempts of one event
// (highest first) and two replays of another (later first) lands whole; an
// empty batch is no error; a batch whose write fails stores nothing.
func testBatch(t *testing.T, s suite) {
	st := s.store(t)
	queued := fixedNow().Add(-6 * time.Hour)
	j, one := Record("org-batch", "batch-multi", queued), Record("org-batch", "batch-one", queued.Add(time.Second))
	r0, r1 := Record("org-batch", "batch-replay", queued.Add(2*time.Second)), Record("org-batch", "batch-replay", queued.Add(time.Hour))
	w := workflowRecord("org-batch", "batch-wf", "run-batch", queued.Add(3*time.Second))
	ja1, ja2, ja3 := attempt(j, 0, 1, retry, 503), attempt(j, 0, 2, retry, 503), attempt(j, 0, 3, delivered, 200)
	onea1 := attempt(one, 0, 1, delivered, 204)
	r0a1, r1a1 := attempt(r0, 0, 1, undelivered, 410), attempt(r1, 1, 1, delivered, 200)
	wa1 := attempt(w, 0, 1, undelivered, 0)
	batch := []*envelope.AttemptRecord{ja3, onea1, r1a1, ja1, wa1, r0a1, ja2}

	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	if err := st.Write(canceled, batch); err == nil {
		t.Errorf("Write with a canceled context: err = nil, want an error")
	}
	for _, id := range []string{"batch-multi", "batch-one", "batch-replay", "batch-wf"} {
		checkNotFound(t, st, "", id)
	}

	if err := st.Write(t.Context(), nil); err != nil {
		t.Errorf("Write(empty batch): %v", err)
	}
	write(t, st, batch...)
	checkTimeline(t, st, timelineOf(roundOf(ja1, ja2, ja3)))
	checkTimeline(t, st, timelineOf(roundOf(onea1)))
	checkTimeline(t, st, timelineOf(superseded(roundOf(r0a1)), roundOf(r1a1)))
	checkTimeline(t, st, timelineOf(roundOf(wa1)))
	p := search(t, st, logstore.Query{OrgID: "org-batch"})
	checkList(t, "Search(org-batch)", keys(p.Deliveries), []string{"batch-replay/1", "batch-wf/0", "batch-one/0", "batch-multi/0"})
}
