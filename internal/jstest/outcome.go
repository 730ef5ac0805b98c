package jstest

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/attemptlog"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// Outcome returns the event's current state folded from its records on
// the attempt stream, or nil when there is none yet. A record that does
// not decode fails the test.
func Outcome(ctx context.Context, t testing.TB, js jetstream.JetStream, sc streams.Config, orgID, eventID string) *envelope.Outcome {
	t.Helper()
	o, err := attemptlog.Latest(ctx, js, sc, attemptlog.Event{OrgID: orgID, EventID: eventID})
	if err != nil {
		if ctx.Err() == nil {
			t.Errorf("attempt records of %s: %v", eventID, err)
		}
		return nil
	}
	return o
}

// FinalOutcome waits up to within for the event's state to be final.
func FinalOutcome(t testing.TB, js jetstream.JetStream, sc streams.Config, orgID, eventID string, within time.Duration) *envelope.Outcome {
	t.Helper()
	ctx := Context(t, within+time.Second)
	var o *envelope.Outcome
	Eventually(t, within, func() bool {
		o = Outcome(ctx, t, js, sc, orgID, eventID)
		return o != nil && o.Final
	}, "final outcome of %s", eventID)
	return o
}

// Records returns the event's attempt records on the attempt stream.
func Records(ctx context.Context, t testing.TB, js jetstream.JetStream, sc streams.Config, orgID, eventID string) []*envelope.AttemptRecord {
	t.Helper()
	recs, err := attemptlog.Read(ctx, js, sc, attemptlog.Event{OrgID: orgID, EventID: eventID})
	if err != nil {
		t.Fatalf("attempt records of %s: %v", eventID, err)
	}
	return recs
}

// WriteAttempt publishes r on the attempt stream, as the deliverer does.
func WriteAttempt(ctx context.Context, t testing.TB, js jetstream.JetStream, sc streams.Config, r *envelope.AttemptRecord) {
	t.Helper()
	msg, err := sc.WithDefaults().AttemptMsg(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatalf("record attempt of %s: %v", r.EventID, err)
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

// AllRecords returns every record on every attempt stream
// (WEBHOOKS_ATTEMPTS and the attempt partitions), by event id, each
// event's records in stream order (streams in streams.AttemptStreams
// order). A record that does not decode fails the test.
func AllRecords(ctx context.Context, t testing.TB, js jetstream.JetStream, sc streams.Config) map[string][]*envelope.AttemptRecord {
	t.Helper()
	sc = sc.WithDefaults()
	parts, err := streams.AttemptStreams(ctx, js, sc)
	if err != nil {
		t.Fatalf("list the attempt streams: %v", err)
	}
	out := map[string][]*envelope.AttemptRecord{}
	for _, p := range parts {
		readRecords(ctx, t, js, p.Stream, out)
	}
	return out
}

// readRecords adds every record of the attempt stream name to out.
func readRecords(ctx context.Context, t testing.TB, js jetstream.JetStream, name string, out map[string][]*envelope.AttemptRecord) {
	t.Helper()
	stream, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatalf("info %s: %v", name, err)
	}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		raw, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("read %s #%d: %v", name, seq, err)
		}
		r, err := envelope.DecodeAttemptRecord(raw.Data)
		if err != nil {
			t.Fatalf("%s #%d: %v", name, seq, err)
		}
		out[r.EventID] = append(out[r.EventID], r)
	}
}
