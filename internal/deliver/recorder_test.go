package deliver

import (
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// TestStopRecordsAndAcksEveryDelivery stops a deliverer as soon as its
// receiver has every event: Run must not return before each delivered
// event has its attempt record and its message is acked (the recorder
// writes them in batches after the attempts end).
func TestStopRecordsAndAcksEveryDelivery(t *testing.T) {
	t.Parallel()
	const n = 400
	h := newHarness(t, streamsConfig())
	rc := newReceiver(t, nil)
	ids := publishJobs(t, h, rc.URL, n)
	stop := h.start(Config{}, nil)
	jstest.Eventually(t, 30*time.Second, func() bool { return rc.count() >= n }, "the receiver never got every event")
	stop()

	ctx := jstest.Context(t, 30*time.Second)
	// Acks are sent before Run returns; the server removes acked
	// messages from the work queue as it reads them.
	jstest.Eventually(t, 5*time.Second, func() bool { return h.pending(ctx) == 0 },
		"messages left on WEBHOOKS after Run returned: some deliveries were not acked")
	all := jstest.AllRecords(ctx, t, h.js, h.streams)
	for _, id := range ids {
		o := envelope.OutcomeOf(all[id])
		if o == nil || o.State != envelope.StateDelivered || o.Attempts != 1 || o.StatusCode != 204 || len(all[id]) != 1 {
			t.Fatalf("event %s: records %+v, want one: delivered at attempt 1 with 204", id, all[id])
		}
	}
	if got := rc.count(); got != n {
		t.Errorf("receiver got %d requests for %d events", got, n)
	}
}

// TestRecordStoreDownDoesNotHoldDeliveries deletes WEBHOOKS_ATTEMPTS:
// every record fails. Each is retried for OutcomeRecordBudget, side by
// side, and then given up (logged and counted); the deliveries themselves
// are acked, none is repeated, and one failing record never holds the
// others' acks for a budget each.
func TestRecordStoreDownDoesNotHoldDeliveries(t *testing.T) {
	t.Parallel()
	const n = 40
	h := newHarness(t, streamsConfig())
	rc := newReceiver(t, nil)
	logs := &jstest.LogBuffer{}
	log := zerolog.New(logs)
	const budget = 500 * time.Millisecond
	h.start(Config{OutcomeRecordBudget: budget, Logger: &log}, nil)
	ctx := jstest.Context(t, 30*time.Second)
	if err := h.js.DeleteStream(ctx, h.streams.AttemptsStream); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	publishJobs(t, h, rc.URL, n)
	// Sequential retries would take n × budget = 20 s.
	jstest.Eventually(t, 8*time.Second, func() bool { return rc.count() >= n && h.pending(ctx) == 0 },
		"deliveries not all acked while the attempt stream is down")
	t.Logf("%d deliveries acked %v after the start with every attempt record failing (budget %v each)", n, time.Since(start).Round(time.Millisecond), budget)
	if got := rc.count(); got != n {
		t.Errorf("receiver got %d requests for %d events: a delivery was repeated", got, n)
	}
	jstest.Eventually(t, 5*time.Second, func() bool { return strings.Count(logs.String(), `"message":"cannot record the attempt"`) == n },
		"want one \"cannot record the attempt\" line per event; log:\n%s", logs.String())
}
