package deliver

import (
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// TestStopRecordsAndAcksEveryDelivery stops a deliverer as soon as its
// receiver has every event: Run must not return before each delivered
// event has its outcome record and its message is acked (the recorder
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
	for _, id := range ids {
		o := h.outcome(ctx, "org_1", envelope.SourceJob, id)
		if o == nil || o.State != envelope.StateDelivered || o.Attempts != 1 || o.StatusCode != 204 {
			t.Fatalf("event %s: outcome %+v, want delivered at attempt 1 with 204", id, o)
		}
	}
	if got := rc.count(); got != n {
		t.Errorf("receiver got %d requests for %d events", got, n)
	}
}
