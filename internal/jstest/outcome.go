package jstest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/streams"
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

// WriteOutcome stores o on its outcome subject, as the deliverer records it.
func WriteOutcome(ctx context.Context, t testing.TB, js jetstream.JetStream, sc streams.Config, o *envelope.Outcome) {
	t.Helper()
	data, err := o.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, sc.WithDefaults().OutcomeSubject(o.OrgID, o.Source, o.EventID), data); err != nil {
		t.Fatalf("record outcome of %s: %v", o.EventID, err)
	}
}

// WriteUndelivered stores a dead letter as the deliverer writes it: body
// (the request's bytes) on the event's undelivered subject, with failure as
// the envelope.HeaderFailure header and the deliverer's Nats-Msg-Id.
func WriteUndelivered(ctx context.Context, t testing.TB, js jetstream.JetStream, sc streams.Config, body []byte, failure *envelope.Outcome) {
	t.Helper()
	rec, err := failure.Encode()
	if err != nil {
		t.Fatal(err)
	}
	msg := nats.NewMsg(sc.WithDefaults().UndeliveredSubject(failure.OrgID, failure.Source, failure.EventID))
	msg.Data = body
	msg.Header.Set(envelope.HeaderFailure, string(rec))
	msg.Header.Set(nats.MsgIdHdr, failure.EventID+":undelivered:"+strconv.Itoa(failure.Replay))
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatalf("dead-letter %s: %v", failure.EventID, err)
	}
}
