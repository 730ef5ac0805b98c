package attemptlog_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/attemptlog"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// record publishes attempt n of the event as a deliverer configured with
// sc does (on WEBHOOKS_ATTEMPTS, or on the organization's attempt
// partition when sc is partitioned); the last one is final.
func record(ctx context.Context, t *testing.T, js jetstream.JetStream, sc streams.Config, eventID string, n int, final bool) {
	t.Helper()
	at := time.Now().UTC()
	rec := &envelope.AttemptRecord{
		V: 1, EventID: eventID, OrgID: "org_456", Source: envelope.SourceJob, EventType: "find_email",
		Host: "your-server.com", Attempt: n, QueuedAt: at, StartedAt: at, FinishedAt: at, Sent: true,
		StatusCode: 503, Decision: envelope.DecisionRetry, RetryDelayMS: 1000, State: envelope.StateRetrying,
	}
	if final {
		rec.StatusCode, rec.Decision, rec.RetryDelayMS, rec.State, rec.Final = 200, envelope.DecisionDelivered, 0, envelope.StateDelivered, true
	}
	msg, err := sc.AttemptMsg(rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
}

func attempts(recs []*envelope.AttemptRecord) []int {
	var out []int
	for _, r := range recs {
		out = append(out, r.Attempt)
	}
	return out
}

// During a change of the partition count an event's records are on two
// attempt streams (the deliverers of the old count write to the old one,
// those of the new count to the organization's new attempt partition):
// Read returns them in the order they were stored whichever stream holds
// them, with either count configured, and Watch sees the old stream's
// records before following the new one.
func TestRecordsSpanAChangeOfPartitionCount(t *testing.T) {
	_, js := jstest.Connect(t, jstest.Server(t))
	ctx := jstest.Context(t, 20*time.Second)
	one := streams.Config{}.WithDefaults()
	three := streams.Config{Partitions: 3}.WithDefaults()
	if _, err := streams.Ensure(ctx, js, one); err != nil {
		t.Fatal(err)
	}
	if _, err := streams.Ensure(ctx, js, three); err != nil {
		t.Fatal(err)
	}
	eventID, err := envelope.NewEventID()
	if err != nil {
		t.Fatal(err)
	}
	ev := attemptlog.Event{OrgID: "org_456", EventID: eventID}

	// Attempt 1 by a new deliverer, attempt 2 by one still on the old
	// count: WEBHOOKS_ATTEMPTS, listed first, holds the later record.
	record(ctx, t, js, three, eventID, 1, false)
	record(ctx, t, js, one, eventID, 2, false)
	for _, sc := range []streams.Config{one, three} {
		recs, err := attemptlog.Read(ctx, js, sc, ev)
		if err != nil {
			t.Fatal(err)
		}
		if got := attempts(recs); len(got) != 2 || got[0] != 1 || got[1] != 2 {
			t.Errorf("Read with %d partitions: attempts %v; want [1 2]", sc.Partitions, got)
		}
	}

	seen := make(chan int, 8)
	watched := make(chan error, 1)
	go func() {
		watched <- attemptlog.Watch(ctx, js, three, ev, func(r *envelope.AttemptRecord) bool {
			seen <- r.Attempt
			return r.Final
		})
	}()
	for _, want := range []int{2, 1} { // the old stream's first
		select {
		case got := <-seen:
			if got != want {
				t.Fatalf("Watch saw attempt %d; want %d", got, want)
			}
		case <-ctx.Done():
			t.Fatalf("Watch saw no attempt %d", want)
		}
	}
	record(ctx, t, js, three, eventID, 3, true)
	select {
	case got := <-seen:
		if got != 3 {
			t.Fatalf("Watch saw attempt %d; want 3", got)
		}
	case <-ctx.Done():
		t.Fatal("Watch did not see the attempt stored after it started")
	}
	if err := <-watched; err != nil {
		t.Fatalf("Watch = %v after the final record", err)
	}

	out, err := attemptlog.Latest(ctx, js, one, ev)
	if err != nil {
		t.Fatal(err)
	}
	if out == nil || out.State != envelope.StateDelivered || out.Attempts != 3 {
		t.Errorf("Latest = %+v; want delivered after 3 attempts", out)
	}
}
