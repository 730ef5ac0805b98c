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

// finish maps the decision to exactly one JetStream action, run by the
// recorder once the attempt's record is stored on WEBHOOKS_ATTEMPTS:
// delivered → Ack; retry → NakWithDelay; dead letter → Term, and only
// after the event is stored in the undelivered stream (written here,
// synchronously, before the record). When the message went to the
// recorder, finish returns true and the recorder calls stop (the message's
// heartbeat, or nil) after the action. Otherwise finish returns false and
// the caller stops the heartbeat.
func (d *Deliverer) finish(ctx context.Context, ev event, req *envelope.Request, res result, dec retry.Decision, stop func()) bool {
	d.logAttempt(ev, res, dec)
	d.metrics.Decision(dec.Action.String(), ev.source)
	rec := d.attemptRecord(ev, req, res, dec)
	var act func()
	switch dec.Action {
	case retry.ActionDeliver:
		act = func() {
			if err := ev.msg.Ack(); err != nil {
				d.log.Warn().Err(err).Str("event_id", ev.eventID).Msg("ack failed; the event may be delivered again")
			}
		}
	case retry.ActionRetry:
		act = func() {
			if err := ev.msg.NakWithDelay(dec.Delay); err != nil {
				d.log.Warn().Err(err).Str("event_id", ev.eventID).Msg("nak failed; the server redelivers after AckWait")
			}
		}
	default: // retry.ActionDeadLetter
		if err := d.deadLetter(ctx, ev, failureRecord(rec, res)); err != nil {
			// Never Term what is not safely in the undelivered stream.
			d.log.Error().Err(err).Str("event_id", ev.eventID).Dur("retry_in", d.cfg.DeadLetterRetryDelay).
				Msg("cannot write to the undelivered stream; keeping the event")
			_ = ev.msg.NakWithDelay(d.cfg.DeadLetterRetryDelay)
			return false
		}
		act = func() {
			if err := ev.msg.TermWithReason(truncate(dec.Reason, 256)); err != nil {
				d.log.Warn().Err(err).Str("event_id", ev.eventID).Msg("term failed; the redelivery will find the event already dead-lettered")
			}
		}
	}
	msg, err := d.cfg.Streams.AttemptMsg(rec)
	if err != nil { // cannot happen for a record built here; keep the decision
		d.log.Error().Err(err).Str("event_id", ev.eventID).Msg("cannot encode the attempt record")
		act()
		return false
	}
	d.recorder.add(finished{msg: ev.msg, eventID: ev.eventID, record: msg, act: act, stop: stop})
	return true
}

// attemptRecord builds the record of this delivery of the message. Its
// block columns (workflow runs) come from this attempt alone: a final
// attempt that sent nothing (an open circuit, attempts already spent)
// records status 0 and no response. An attempt that sent its request
// records the request's headers (see recordedHeaders) and, on attempt 1 of
// a round only, its body (see recordedBody).
func (d *Deliverer) attemptRecord(ev event, req *envelope.Request, res result, dec retry.Decision) *envelope.AttemptRecord {
	now := d.cfg.Now()
	started := res.sentAt
	if started.IsZero() {
		started = now
	}
	r := &envelope.AttemptRecord{
		V: 1, EventID: ev.eventID, OrgID: ev.orgID, Source: envelope.Source(ev.source), Host: ev.host,
		Replay: ev.replay, Attempt: ev.attempt, QueuedAt: ev.queuedAt.UTC(),
		StartedAt: started.UTC(), FinishedAt: started.Add(res.duration).UTC(),
		DurationMS: float64(res.duration.Microseconds()) / 1000, Sent: res.sent,
		StatusCode: res.outcome.StatusCode, ResponseExcerpt: res.excerpt,
	}
	if res.sent {
		r.RequestHeaders = recordedHeaders(res.header, len(res.body))
		if ev.attempt == 1 {
			r.RequestBody, r.RequestBodyTruncated = recordedBody(res.body)
		}
	}
	if req != nil {
		r.EventType = req.EventType
		if req.Job != nil {
			r.TaskID = req.Job.TaskID
		}
		if req.Workflow != nil {
			r.RunID, r.WorkflowID = req.Workflow.RunID, req.Workflow.WorkflowID
		}
	}
	switch dec.Action {
	case retry.ActionDeliver:
		r.Decision = envelope.DecisionDelivered
	case retry.ActionRetry:
		r.Decision = envelope.DecisionRetry
		r.RetryDelayMS = dec.Delay.Milliseconds()
		r.RetryDelayFrom = string(dec.DelayFrom)
		next := now.Add(dec.Delay).UTC()
		r.NextAttemptAt = &next
	default:
		r.Decision = envelope.DecisionUndelivered
	}
	if dec.Action != retry.ActionDeliver {
		r.ErrorClass, r.Error = res.outcome.Kind.String(), dec.Reason
	}
	r.State = envelope.StateOf(r.Decision)
	r.Final = r.State != envelope.StateRetrying
	r.SetBlockColumns()
	return r
}

// failureRecord is the failure record an undelivered event carries, made
// from its last attempt's record. The first attempt's time is known only
// when the event failed at its first attempt; the delivery log has it for
// every event.
func failureRecord(rec *envelope.AttemptRecord, res result) *envelope.Outcome {
	o := &envelope.Outcome{
		V: 1, EventID: rec.EventID, OrgID: rec.OrgID, Source: rec.Source, EventType: rec.EventType,
		TaskID: rec.TaskID, RunID: rec.RunID, WorkflowID: rec.WorkflowID, Host: rec.Host,
		State: envelope.StateUndelivered, Final: true, Attempts: rec.Attempt,
		StatusCode: rec.StatusCode, ResponseExcerpt: rec.ResponseExcerpt, Error: rec.Error,
		QueuedAt: rec.QueuedAt, Replay: rec.Replay,
	}
	if !res.sentAt.IsZero() {
		o.LastAttemptAt = rec.StartedAt
		if rec.Attempt == 1 {
			o.FirstAttemptAt = rec.StartedAt
		}
	}
	o.SetBlockColumns()
	return o
}

// writeRecord publishes an attempt record and waits for the server's ack,
// retrying for up to Config.OutcomeRecordBudget. Failing to record does
// not undo or repeat the attempt; it is logged and counted.
func (d *Deliverer) writeRecord(ctx context.Context, msg *nats.Msg, eventID string) {
	var err error
	deadline := time.Now().Add(d.cfg.OutcomeRecordBudget)
	for try := 1; ; try++ {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err = d.js.PublishMsg(pctx, msg)
		cancel()
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			break
		}
		retry.Pause(ctx, min(time.Duration(try)*200*time.Millisecond, 2*time.Second))
	}
	if err != nil {
		d.metrics.RecordError()
		d.log.Error().Err(err).Str("event_id", eventID).Msg("cannot record the attempt")
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
	if dec.DelayFrom != "" && dec.DelayFrom != retry.DelayFromSchedule {
		e = e.Str("delay_from", string(dec.DelayFrom))
	}
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
