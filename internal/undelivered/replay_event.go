package undelivered

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// errCodeSubjectFull is JetStream's refusal of a second message on an
// undelivered subject (DiscardNewPerSubject): the event is already there.
const errCodeSubjectFull jetstream.ErrorCode = 10077

// errStopped means Replay must stop before this event: the rate limiter
// cannot wait within ctx's deadline.
var errStopped = errors.New("stopped before the next replay")

// finishTimeout bounds the steps that must complete once a publish was
// acknowledged, even after the caller's context ended.
const finishTimeout = 10 * time.Second

// result is what happened to one event.
type result int

const (
	// resultReplayed: published by this call and removed.
	resultReplayed result = iota
	// resultSkipped: already replayed or gone; nothing published.
	resultSkipped
)

// replayer holds what one Replay call uses for every event.
type replayer struct {
	js          jetstream.JetStream
	sc          streams.Config
	now         func() time.Time
	limiter     *rate.Limiter
	undelivered jetstream.Stream
	history     func(ctx context.Context, orgID, eventID string) (*envelope.Outcome, error)
}

// replay handles one event: re-read it, check that it is still to be
// replayed, publish, delete.
func (r *replayer) replay(ctx context.Context, ref Entry) (result, error) {
	e, err := entryAt(ctx, r.undelivered, ref.Seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return resultSkipped, nil // replayed or purged meanwhile
	}
	if err != nil {
		return 0, fmt.Errorf("read undelivered message: %w", err)
	}
	id := subjectIdentity(e.Subject)
	if err := checkRequest(e.Request, id); err != nil {
		return 0, err
	}
	n := 1
	if e.Failure != nil {
		n = e.Failure.Replay + 1
	}
	prev, err := r.outcome(ctx, id)
	if err != nil {
		return 0, err
	}
	if prev != nil && prev.Replay >= n {
		// Replay n already reached a deliverer: publishing again would
		// deliver the event twice.
		return resultSkipped, r.retire(ctx, e, prev)
	}
	if err := r.limiter.Wait(ctx); err != nil {
		return 0, fmt.Errorf("%w: %w", errStopped, err)
	}
	ack, err := r.publish(ctx, e, id, n)
	if err != nil {
		return 0, err
	}
	// The replay is stored: finish even if ctx ends now.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := r.delete(fctx, e.Seq); err != nil {
		return 0, fmt.Errorf("replay %d published, but %w; run replay again (it will not publish the event again)", n, err)
	}
	// A replay that fails again at once may reach the deliverer before the
	// delete above: the deliverer then replaces the stale record itself
	// (deliver.Deliverer.deadLetter), so the event is never in no stream.
	if ack.Duplicate {
		return resultSkipped, nil // an earlier run published this replay
	}
	return resultReplayed, nil
}

// checkRequest refuses a request that a deliverer could not decode, or
// whose identity differs from its subject's: replaying it would fail again,
// and under another event id.
func checkRequest(data []byte, id identity) error {
	req, err := envelope.Decode(data, envelope.URLPolicy{AllowHTTP: true})
	if err != nil {
		return fmt.Errorf("not replayable: the request is not a valid delivery request: %w", err)
	}
	if req.EventID != id.eventID || req.OrgID != id.orgID || string(req.Source) != id.source {
		return fmt.Errorf("not replayable: the request (event %s, org %s, source %s) does not match its subject",
			req.EventID, req.OrgID, req.Source)
	}
	return nil
}

// publish stores the unchanged request on its deliver subject with the
// replay's Nats-Msg-Id and counter.
func (r *replayer) publish(ctx context.Context, e Entry, id identity, n int) (*jetstream.PubAck, error) {
	msg := nats.NewMsg(r.sc.DeliverSubject(id.orgID, envelope.Source(id.source)))
	msg.Data = e.Request
	msg.Header.Set(nats.MsgIdHdr, ReplayMsgID(id.eventID, n))
	msg.Header.Set(HeaderReplay, strconv.Itoa(n))
	ack, err := r.js.PublishMsg(ctx, msg)
	if err == nil {
		err = r.sc.CheckStored(ack)
	}
	if err != nil {
		return nil, fmt.Errorf("publish replay %d to %s: %w", n, msg.Subject, err)
	}
	return ack, nil
}

// ReplayMsgID is the Nats-Msg-Id of replay n of an event:
// "<event_id>:replay:<n>".
func ReplayMsgID(eventID string, n int) string {
	return eventID + ":replay:" + strconv.Itoa(n)
}

// retire removes the undelivered message of an event whose replay a
// deliverer already handled. When that replay failed for good, the
// deliverer could not write its failure record (the subject was occupied),
// so the message is replaced by the request with the newer record.
func (r *replayer) retire(ctx context.Context, e Entry, latest *envelope.Outcome) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := r.delete(fctx, e.Seq); err != nil {
		return fmt.Errorf("already replayed (replay %d), but %w", latest.Replay, err)
	}
	if latest.Final && latest.State == envelope.StateUndelivered {
		return r.restore(fctx, e, latest)
	}
	return nil
}

// restore writes the request back to the undelivered stream with failure
// as its record. A subject already occupied counts as written.
func (r *replayer) restore(ctx context.Context, e Entry, failure *envelope.Outcome) error {
	rec, err := failure.Encode()
	if err != nil {
		return err
	}
	msg := nats.NewMsg(e.Subject)
	msg.Data = e.Request
	msg.Header.Set(envelope.HeaderFailure, string(rec))
	msg.Header.Set(nats.MsgIdHdr, failure.EventID+":undelivered:"+strconv.Itoa(failure.Replay)+":restored")
	_, err = r.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(r.sc.UndeliveredStream))
	var apiErr *jetstream.APIError
	if err != nil && !(errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeSubjectFull) {
		return fmt.Errorf("replay %d failed again and its undelivered record could not be written back: %w", failure.Replay, err)
	}
	return nil
}

// outcome returns the event's latest round from the delivery log, or nil
// when it has none or there is no log (ReplayOptions.History).
func (r *replayer) outcome(ctx context.Context, id identity) (*envelope.Outcome, error) {
	if r.history == nil {
		return nil, nil
	}
	o, err := r.history(ctx, id.orgID, id.eventID)
	if err != nil {
		return nil, fmt.Errorf("read the delivery log: %w", err)
	}
	return o, nil
}

// delete removes the undelivered message at seq. A message already gone
// counts as deleted.
func (r *replayer) delete(ctx context.Context, seq uint64) error {
	return deleteSeq(ctx, r.undelivered, seq)
}

// deleteSeq removes the message at seq from stream; one already gone counts
// as deleted.
func deleteSeq(ctx context.Context, stream jetstream.Stream, seq uint64) error {
	err := stream.DeleteMsg(ctx, seq)
	if err == nil {
		return nil
	}
	if _, gerr := stream.GetMsg(ctx, seq); errors.Is(gerr, jetstream.ErrMsgNotFound) {
		return nil
	}
	return fmt.Errorf("delete undelivered message %d: %w", seq, err)
}
