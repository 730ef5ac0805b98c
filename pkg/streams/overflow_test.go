package streams_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// Ensure makes the overflow stream with one deliverers' consumer per
// overflow lane; an organization's overflow subject is taken by its lane's
// consumer only and read back by ParseDeliverSubject, which refuses the
// organization on another lane; its pending deliveries are looked for
// there too.
func TestOverflowStreamHoldsMovedDeliveries(t *testing.T) {
	sc := streams.Config{}.WithDefaults()
	_, js := jstest.Connect(t, jstest.Server(t))
	ctx := jstest.Context(t, 20*time.Second)
	res, err := streams.Ensure(ctx, js, sc)
	if err != nil {
		t.Fatal(err)
	}
	if res.Overflow.Partition.Stream != "WEBHOOKS_OVERFLOW" || len(res.Overflow.Consumers) != streams.OverflowLanes || res.Overflow.Partition.Label() != "overflow" {
		t.Fatalf("Ensure made %s (%s) with %d consumers; want WEBHOOKS_OVERFLOW (overflow) with %d", res.Overflow.Partition.Stream, res.Overflow.Partition.Label(), len(res.Overflow.Consumers), streams.OverflowLanes)
	}
	subject := sc.OverflowSubject("org_123", envelope.SourceJob)
	if _, err := js.Publish(ctx, subject, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	taken := 0
	for i, l := range sc.LanesOf(sc.OverflowPartition()) {
		info, err := res.Overflow.Consumers[i].Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Name != l.Consumer || !strings.HasPrefix(l.Consumer, "deliverer_O") {
			t.Errorf("lane %d's consumer is %s, want %s", i, info.Name, l.Consumer)
		}
		taken += int(info.NumPending)
	}
	if taken != 1 {
		t.Errorf("the moved delivery is pending on %d overflow consumers, want 1", taken)
	}
	if org, src, ok := sc.ParseDeliverSubject(subject); !ok || org != "org_123" || src != envelope.SourceJob {
		t.Errorf("ParseDeliverSubject(%q) = %q, %q, %v", subject, org, src, ok)
	}
	wrongLane := strings.Replace(subject, ".overflow."+strings.Split(subject, ".")[2]+".", ".overflow.9.", 1)
	if _, _, ok := sc.ParseDeliverSubject(wrongLane); ok {
		t.Errorf("ParseDeliverSubject(%q) accepted an organization on another overflow lane", wrongLane)
	}
	if got := sc.PendingFilters("org_123", envelope.SourceJob)["WEBHOOKS_OVERFLOW"]; got != subject {
		t.Errorf("PendingFilters on WEBHOOKS_OVERFLOW = %q, want %q", got, subject)
	}
	queued := time.Date(2026, 12, 8, 1, 2, 3, 4, time.UTC)
	h := nats.Header{}
	h.Set(streams.HeaderQueuedAt, queued.Format(time.RFC3339Nano))
	if got := streams.QueuedAt(h, time.Now()); !got.Equal(queued) {
		t.Errorf("QueuedAt = %v, want %v", got, queued)
	}
	if stored := time.Now(); !streams.QueuedAt(nats.Header{}, stored).Equal(stored) {
		t.Error("QueuedAt without the header is not the stored time")
	}
}
