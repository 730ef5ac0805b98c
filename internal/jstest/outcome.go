package jstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// Outcome returns the latest outcome record on subject of the outcomes
// stream, or nil when there is none yet. A record that does not decode
// fails the test.
func Outcome(ctx context.Context, t testing.TB, outcomes jetstream.Stream, subject string) *envelope.Outcome {
	t.Helper()
	raw, err := outcomes.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		return nil
	}
	o, err := envelope.DecodeOutcome(raw.Data)
	if err != nil {
		t.Errorf("outcome on %s: %v", subject, err)
		return nil
	}
	return o
}

// FinalOutcome waits up to within for a final outcome record on subject.
func FinalOutcome(t testing.TB, outcomes jetstream.Stream, subject string, within time.Duration) *envelope.Outcome {
	t.Helper()
	ctx := Context(t, within+time.Second)
	var o *envelope.Outcome
	Eventually(t, within, func() bool {
		o = Outcome(ctx, t, outcomes, subject)
		return o != nil && o.Final
	}, "final outcome on %s", subject)
	return o
}
