package undelivered

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// ErrNotFound means no undelivered message matched.
var ErrNotFound = errors.New("undelivered: event not found")

// scanBatch is how many messages one fetch asks for.
const scanBatch = 256

// consumerIdle is the InactiveThreshold of the scan's ordered consumer: the
// server removes it this long after the last fetch if it was not deleted.
const consumerIdle = 30 * time.Second

// Entry is one message of the undelivered stream.
type Entry struct {
	// Seq is the message's stream sequence, which Replay and Purge delete by.
	Seq uint64
	// Subject is <prefix>.undelivered.<org_id>.<source>.<event_id>.
	Subject string
	// StoredAt is when the event was dead-lettered: the message's stream
	// timestamp (UTC).
	StoredAt time.Time
	// Request is the delivery request exactly as it was published. It is
	// nil where only headers were read (Replay's and Purge's counting pass).
	Request []byte
	// Failure is the failure record, or nil when the header is missing or
	// cannot be decoded.
	Failure *envelope.Outcome
	// Replayed is true when the failed attempts were themselves an operator
	// replay (the failure record's replay counter is above zero).
	Replayed bool
}

// EventID returns the event id from the subject.
func (e *Entry) EventID() string { return subjectIdentity(e.Subject).eventID }

// OrgID returns the organization id from the subject.
func (e *Entry) OrgID() string { return subjectIdentity(e.Subject).orgID }

// Source returns the source ("job" or "workflow") from the subject.
func (e *Entry) Source() string { return subjectIdentity(e.Subject).source }

// All iterates over the undelivered events that f selects, oldest first,
// reading the stream with an ordered consumer (so memory does not grow
// with the stream). Messages stored after the iteration started are not
// visited. On an error it yields the error once, with a zero Entry, and
// stops; an invalid filter yields an error wrapping ErrInvalidFilter.
func All(ctx context.Context, js jetstream.JetStream, sc streams.Config, f Filter) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		m, err := f.compile()
		if err == nil {
			err = scan(ctx, js, sc.WithDefaults(), m, false, func(e Entry) bool { return yield(e, nil) })
		}
		if err != nil {
			yield(Entry{}, err)
		}
	}
}

// List returns up to limit undelivered events that f selects, oldest
// first; limit <= 0 means no limit. Errors wrap ErrInvalidFilter or the
// JetStream error.
func List(ctx context.Context, js jetstream.JetStream, sc streams.Config, f Filter, limit int) ([]Entry, error) {
	var out []Entry
	for e, err := range All(ctx, js, sc, f) {
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}

// Show returns the undelivered message of one event, or an error wrapping
// ErrNotFound when the event is not in the stream.
func Show(ctx context.Context, js jetstream.JetStream, sc streams.Config, eventID string) (Entry, error) {
	entries, err := List(ctx, js, sc, Filter{EventIDs: []string{eventID}}, 1)
	if err != nil {
		return Entry{}, err
	}
	if len(entries) == 0 {
		return Entry{}, fmt.Errorf("%w: %s", ErrNotFound, eventID)
	}
	return entries[0], nil
}

// scan feeds yield every message of the undelivered stream that m selects,
// up to the last sequence at the start, until yield returns false. With
// headersOnly the bodies are not transferred.
func scan(ctx context.Context, js jetstream.JetStream, sc streams.Config, m matcher, headersOnly bool, yield func(Entry) bool) error {
	stream, err := js.Stream(ctx, sc.UndeliveredStream)
	if err != nil {
		return fmt.Errorf("undelivered: open stream %s: %w", sc.UndeliveredStream, err)
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: m.subjects(sc), HeadersOnly: headersOnly, InactiveThreshold: consumerIdle,
	}
	if !m.Since.IsZero() {
		since := m.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	err = streams.Scan(ctx, stream, cfg, scanBatch, func(msg jetstream.Msg, meta *jetstream.MsgMetadata) bool {
		e := newEntry(msg.Subject(), meta.Sequence.Stream, meta.Timestamp, msg.Headers().Get(envelope.HeaderFailure), msg.Data(), headersOnly)
		return !m.match(&e) || yield(e)
	})
	if err != nil {
		return fmt.Errorf("undelivered: %w", err)
	}
	return nil
}

// newEntry builds an Entry; the failure record is decoded from its header.
func newEntry(subject string, seq uint64, stored time.Time, failure string, data []byte, headersOnly bool) Entry {
	e := Entry{Seq: seq, Subject: subject, StoredAt: stored.UTC()}
	if !headersOnly {
		e.Request = data
	}
	if failure != "" {
		if o, err := envelope.DecodeOutcome([]byte(failure)); err == nil {
			e.Failure = o
			e.Replayed = o.Replay > 0
		}
	}
	return e
}

// entryAt reads the message at seq, or returns an error wrapping
// jetstream.ErrMsgNotFound when it is gone.
func entryAt(ctx context.Context, stream jetstream.Stream, seq uint64) (Entry, error) {
	raw, err := stream.GetMsg(ctx, seq)
	if err != nil {
		return Entry{}, err
	}
	return newEntry(raw.Subject, raw.Sequence, raw.Time, raw.Header.Get(envelope.HeaderFailure), raw.Data, false), nil
}
