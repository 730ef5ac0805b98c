package deliver

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
)

// errCodeSubjectFull is JetStream's answer to a second publish on a
// subject that holds its one message with DiscardNewPerSubject: the event
// is already dead-lettered.
const errCodeSubjectFull jetstream.ErrorCode = 10077

// finish maps the decision to exactly one JetStream action. A delivered
// event goes to the recorder, which writes its outcome record and then acks
// it; finish then returns true, and the recorder calls stop (the
// message's heartbeat, or nil) once the message is acked. Otherwise finish
// returns false and the caller stops the heartbeat.
func (d *Deliverer) finish(ctx context.Context, ev event, req *envelope.Request, res result, dec retry.Decision, stop func()) bool {
	d.logAttempt(ev, res, dec)
	d.metrics.Decision(dec.Action.String(), ev.source)
	switch dec.Action {
	case retry.ActionDeliver:
		o := d.outcome(ctx, ev, req, res, dec, envelope.StateDelivered)
		record, err := o.Encode()
		if err != nil { // cannot happen for a record built here; keep the delivery
			d.log.Error().Err(err).Str("event_id", o.EventID).Msg("cannot encode outcome")
			if err := ev.msg.Ack(); err != nil {
				d.log.Warn().Err(err).Str("event_id", ev.eventID).Msg("ack failed; the event may be delivered again")
			}
			return false
		}
		d.recorder.add(delivered{msg: ev.msg, eventID: o.EventID, record: record, stop: stop,
			subject: d.cfg.Streams.OutcomeSubject(o.OrgID, o.Source, o.EventID)})
		return true
	case retry.ActionRetry:
		d.recordOutcome(ctx, d.outcome(ctx, ev, req, res, dec, envelope.StateRetrying))
		if err := ev.msg.NakWithDelay(dec.Delay); err != nil {
			d.log.Warn().Err(err).Str("event_id", ev.eventID).Msg("nak failed; the server redelivers after AckWait")
		}
	default: // retry.ActionDeadLetter
		out := d.outcome(ctx, ev, req, res, dec, envelope.StateUndelivered)
		if err := d.deadLetter(ctx, ev, out); err != nil {
			// Never Term what is not safely in the undelivered stream.
			d.log.Error().Err(err).Str("event_id", ev.eventID).Dur("retry_in", d.cfg.DeadLetterRetryDelay).
				Msg("cannot write to the undelivered stream; keeping the event")
			_ = ev.msg.NakWithDelay(d.cfg.DeadLetterRetryDelay)
			return false
		}
		d.recordOutcome(ctx, out)
		if err := ev.msg.TermWithReason(truncate(dec.Reason, 256)); err != nil {
			d.log.Warn().Err(err).Str("event_id", ev.eventID).Msg("term failed; the redelivery will find the event already dead-lettered")
		}
	}
	return false
}

// outcome builds the event's record. For a later attempt it reads the
// previous record to keep the first attempt's time (and, when this delivery
// sent nothing, the last response seen).
func (d *Deliverer) outcome(ctx context.Context, ev event, req *envelope.Request, res result, dec retry.Decision, state string) *envelope.Outcome {
	o := &envelope.Outcome{
		V: 1, EventID: ev.eventID, OrgID: ev.orgID, Source: envelope.Source(ev.source),
		State: state, Final: state != envelope.StateRetrying, Success: state == envelope.StateDelivered,
		Attempts: ev.attempt, StatusCode: res.outcome.StatusCode, ResponseExcerpt: res.excerpt,
		QueuedAt: ev.meta.Timestamp.UTC(), Replay: ev.replay,
	}
	if state != envelope.StateDelivered {
		o.Error = dec.Reason
	}
	if req != nil {
		o.EventID, o.OrgID, o.Source, o.EventType, o.Host = req.EventID, req.OrgID, req.Source, req.EventType, ev.host
		if req.Job != nil {
			o.TaskID = req.Job.TaskID
		}
		if req.Workflow != nil {
			o.RunID, o.WorkflowID = req.Workflow.RunID, req.Workflow.WorkflowID
		}
	}
	if !res.sentAt.IsZero() {
		o.FirstAttemptAt, o.LastAttemptAt = res.sentAt.UTC(), res.sentAt.UTC()
	}
	if ev.attempt > 1 {
		if prev := d.previousOutcome(ctx, o); prev != nil && prev.Replay == o.Replay {
			if !prev.FirstAttemptAt.IsZero() {
				o.FirstAttemptAt = prev.FirstAttemptAt
			}
			if res.sentAt.IsZero() {
				o.LastAttemptAt, o.StatusCode, o.ResponseExcerpt = prev.LastAttemptAt, prev.StatusCode, prev.ResponseExcerpt
				o.Attempts = prev.Attempts
			}
		}
	}
	if state == envelope.StateRetrying {
		next := d.cfg.Now().Add(dec.Delay).UTC()
		o.NextAttemptAt = &next
	}
	o.SetBlockColumns()
	return o
}

// previousOutcome returns the event's latest record, or nil.
func (d *Deliverer) previousOutcome(ctx context.Context, o *envelope.Outcome) *envelope.Outcome {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	raw, err := d.outcomes.GetLastMsgForSubject(ctx, d.cfg.Streams.OutcomeSubject(o.OrgID, o.Source, o.EventID))
	if err != nil {
		return nil
	}
	prev, err := envelope.DecodeOutcome(raw.Data)
	if err != nil {
		return nil
	}
	return prev
}

// recordOutcome writes the event's record (writeOutcome).
func (d *Deliverer) recordOutcome(ctx context.Context, o *envelope.Outcome) {
	data, err := o.Encode()
	if err != nil {
		d.log.Error().Err(err).Str("event_id", o.EventID).Msg("cannot encode outcome")
		return
	}
	d.writeOutcome(ctx, d.cfg.Streams.OutcomeSubject(o.OrgID, o.Source, o.EventID), data, o.EventID, o.State)
}

// writeOutcome publishes a record and waits for the server's ack,
// retrying for up to Config.OutcomeRecordBudget. Failing to record does not undo
// or repeat the delivery; it is logged and counted.
func (d *Deliverer) writeOutcome(ctx context.Context, subject string, data []byte, eventID, state string) {
	var err error
	deadline := time.Now().Add(d.cfg.OutcomeRecordBudget)
	for try := 1; ; try++ {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err = d.js.Publish(pctx, subject, data)
		cancel()
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			break
		}
		sleep(ctx, min(time.Duration(try)*200*time.Millisecond, 2*time.Second))
	}
	if err != nil {
		d.metrics.OutcomeError()
		d.log.Error().Err(err).Str("event_id", eventID).Str("state", state).Msg("cannot record outcome")
	}
}

// deadLetter publishes the unchanged request with its failure record to
// WEBHOOKS_UNDELIVERED and waits for the server's ack. The subject holds
// one message per event: when it is taken by this same delivery (a
// deliverer died between the write and the Term), the event counts as
// written. When it holds an earlier round of the event (a replay failed
// before the replayer removed the old record), the stale record is
// replaced, so the event is never left in no stream.
func (d *Deliverer) deadLetter(ctx context.Context, ev event, failure *envelope.Outcome) error {
	rec, err := failure.Encode()
	if err != nil {
		return err
	}
	subject := d.cfg.Streams.UndeliveredSubject(failure.OrgID, failure.Source, failure.EventID)
	msg := nats.NewMsg(subject)
	msg.Data = ev.msg.Data()
	msg.Header.Set(envelope.HeaderFailure, string(rec))
	msg.Header.Set(nats.MsgIdHdr, failure.EventID+":undelivered:"+strconv.Itoa(ev.replay))
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for range 3 {
		_, err = d.js.PublishMsg(ctx, msg)
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode != errCodeSubjectFull {
			return err
		}
		raw, err := d.undelivered.GetLastMsgForSubject(ctx, subject)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // the old record was removed meanwhile: write again
		}
		if err != nil {
			return err
		}
		stored, err := envelope.DecodeOutcome([]byte(raw.Header.Get(envelope.HeaderFailure)))
		if err == nil && stored.Replay >= ev.replay {
			return nil // this round (or a later one) is already written
		}
		if err := d.undelivered.DeleteMsg(ctx, raw.Sequence); err != nil {
			if _, gerr := d.undelivered.GetMsg(ctx, raw.Sequence); !errors.Is(gerr, jetstream.ErrMsgNotFound) {
				return err
			}
		}
	}
	return errors.New("the undelivered record of the event kept changing; retrying later")
}

// logAttempt writes the one line per attempt, with fixed keys.
func (d *Deliverer) logAttempt(ev event, res result, dec retry.Decision) {
	var e *zerolog.Event
	switch dec.Action {
	case retry.ActionDeliver:
		e = d.log.Info()
	case retry.ActionRetry:
		e = d.log.Warn()
	default:
		e = d.log.Error()
	}
	if !e.Enabled() {
		return
	}
	e = e.Str("event_id", ev.eventID).Str("org_id", ev.orgID).Int("attempt", ev.attempt).Str("host", ev.host).
		Int("status", res.outcome.StatusCode).Int64("duration_ms", res.duration.Milliseconds()).
		Str("decision", dec.Action.String()).Dur("delay", dec.Delay)
	if dec.Reason != "" {
		e = e.Str("reason", dec.Reason)
	}
	e.Msg("attempt")
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// redactURLError drops the URL from a *url.Error: URLs may carry tokens.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return errors.New(ue.Op + ": " + ue.Err.Error())
	}
	return err
}
