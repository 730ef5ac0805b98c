package deliver

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
)

// HeaderReplay is the NATS header an operator replay puts on a re-published
// delivery request: the replay counter, 1 for the first replay.
const HeaderReplay = "Sixtyfour-Replay"

// event is one delivery of one message.
type event struct {
	msg     jetstream.Msg
	meta    *jetstream.MsgMetadata
	attempt int
	// queuedAt is when the event was first stored (see queuedAt).
	queuedAt time.Time
	replay   int
	// Identity from the subject, used when the request cannot be decoded.
	orgID, source, eventID string
	// host is the destination host of a decoded request ("" before).
	host string
	// src is the source it was pulled from, whose share of the waiting
	// room it takes while it waits.
	src *source
}

// handle runs one delivery of one message to its end: one attempt, then
// exactly one of Ack, NakWithDelay, or dead-letter then Term. A panic is
// contained here and the message retried: no input can take the process
// down. It reports whether the message went to the recorder, which then
// acts on it and releases its worker slot.
func (d *Deliverer) handle(ctx context.Context, msg jetstream.Msg, src *source) (handedOff bool) {
	defer func() {
		if r := recover(); r != nil {
			d.log.Error().Str("panic", fmt.Sprint(r)).Str("stack", string(debug.Stack())).
				Str("subject", msg.Subject()).Msg("panic while delivering; the message will be retried")
			_ = msg.NakWithDelay(d.cfg.DeadLetterRetryDelay)
		}
	}()
	meta, err := msg.Metadata()
	if err != nil {
		d.log.Error().Err(err).Str("subject", msg.Subject()).Msg("message without JetStream metadata; retrying later")
		_ = msg.NakWithDelay(d.cfg.DeadLetterRetryDelay)
		return false
	}
	ev := d.identify(msg, meta)
	ev.src = src
	ev.queuedAt = queuedAt(msg, meta, src != nil && src.part.Overflow)

	req, err := envelope.Decode(msg.Data(), d.cfg.URLs)
	if err == nil {
		err = d.matchSubject(ev, req)
	}
	if err != nil {
		return d.fail(ctx, ev, nil, retry.Outcome{Kind: retry.KindInvalidRequest, Err: err})
	}
	// The request's identity is authoritative (a replay's Nats-Msg-Id is
	// not the event id).
	ev.eventID, ev.orgID, ev.source, ev.host = req.EventID, req.OrgID, string(req.Source), req.Host()
	if max := d.cfg.Policy.Schedule.MaxAttempts(); ev.attempt > max {
		// The previous delivery ended without a decision (its deliverer
		// died): the schedule is spent, so dead-letter without sending.
		return d.finish(ctx, ev, req, result{}, retry.Decision{
			Action: retry.ActionDeadLetter,
			Reason: "attempts exhausted after " + strconv.Itoa(max) + " attempts: the last attempt was interrupted",
		}, nil)
	}
	return d.deliver(ctx, ev, req)
}

// deliver makes one attempt of a valid request, unless its download link
// must wait or its host's circuit is open, and finishes the message. It
// reports whether the message went to the recorder (see handle).
func (d *Deliverer) deliver(ctx context.Context, ev event, req *envelope.Request) (handedOff bool) {
	plan, err := d.planLink(ctx, req, d.cfg.Now())
	switch {
	case err != nil:
		return d.fail(ctx, ev, req, retry.Outcome{Kind: retry.KindConnection, Err: fmt.Errorf("results store: %w", err)})
	case plan == linkWait:
		if err := d.park(ctx, ev, req); err != nil {
			d.log.Warn().Err(err).Str("event_id", ev.eventID).Msg("cannot park the event while its CSV is missing; retrying")
			_ = ev.msg.NakWithDelay(d.cfg.Links.Poll)
		}
		return false
	case plan == linkLost:
		return d.finish(ctx, ev, req, result{}, retry.Decision{Action: retry.ActionDeadLetter,
			Reason: "results too large to inline, and their download (" + req.Workflow.ResultsObject + ") is not available" +
				" (the object is missing, or download links are not configured: WEBHOOKS_DOWNLOAD_KEY)"}, nil)
	}
	host := ev.host
	if ok, reason := d.breaker.allow(host); !ok {
		return d.fail(ctx, ev, req, retry.Outcome{Kind: retry.KindConnection, Err: errors.New(reason)})
	}
	stop := d.heartbeat(ev.msg)
	defer func() { // also after a panic
		if !handedOff {
			stop()
		}
	}()
	if err := d.orgPace(ctx, ev); err != nil {
		d.breaker.abandon(host)
		return false // shutting down: the server redelivers after AckWait
	}
	releaseOrg, err := d.orgSlot(ctx, ev)
	if err != nil {
		d.breaker.abandon(host)
		return false // shutting down: the server redelivers after AckWait
	}
	release, err := d.slot(ctx, d.hosts, host, ev)
	if err != nil {
		releaseOrg()
		d.breaker.abandon(host)
		return false
	}
	res := d.attempt(ctx, req, ev.attempt, plan == linkSigned)
	release()
	releaseOrg()
	if res.sent {
		d.breaker.record(host, res.outcome)
	} else {
		d.breaker.abandon(host)
	}
	return d.finish(ctx, ev, req, res, d.cfg.Policy.Decide(ev.attempt, res.outcome), stop)
}

// fail finishes an attempt that sent nothing, with outcome o; it returns
// what finish returns.
func (d *Deliverer) fail(ctx context.Context, ev event, req *envelope.Request, o retry.Outcome) bool {
	return d.finish(ctx, ev, req, result{outcome: o}, d.cfg.Policy.Decide(ev.attempt, o), nil)
}

// orgSlot takes one of the organization's slots when OrgConcurrency caps
// the attempts in flight per organization (see slot); with no cap it takes
// nothing. The returned func gives the slot back.
func (d *Deliverer) orgSlot(ctx context.Context, ev event) (func(), error) {
	if d.orgs == nil {
		return func() {}, nil
	}
	return d.slot(ctx, d.orgs, ev.orgID, ev)
}

// slot takes one of key's slots in l: a destination host's (d.hosts), or
// an organization's (d.orgs). While key is at its limit, the message waits
// in the waiting room without holding a worker slot, so a slow host (or a
// capped organization) does not hold workers that others could use, and
// never holds a worker while it waits (which could leave every worker
// waiting on one host). A host's freed slots go to the waiting
// organizations in turn (see hostLimiter). The message counts against its
// source's share of the room, which decides when the source's pull loop
// pauses (see room.go); entering the room never blocks. The caller holds a
// worker slot on entry and on return.
func (d *Deliverer) slot(ctx context.Context, l *hostLimiter, key string, ev event) (func(), error) {
	if release, ok := l.tryAcquire(key); ok {
		return release, nil
	}
	var release func()
	err := d.inRoom(ev, func() (err error) {
		release, err = l.acquire(ctx, key, ev.orgID)
		return err
	})
	return release, err
}

// inRoom runs wait in the waiting room: ev's message counts against its
// source's share of the room, and gives its worker slot up meanwhile. The
// caller holds a worker slot on entry and on return.
func (d *Deliverer) inRoom(ev event, wait func() error) error {
	d.enterRoom(ev.src)
	<-d.slots
	err := wait()
	d.leaveRoom(ev.src)
	// Take a worker slot back. Slots are only held by attempts under way
	// and by delivered messages waiting for their record, both of which
	// end, so this wait is short; at the shutdown deadline the slot is
	// still taken, to keep the caller's release balanced.
	d.slots <- struct{}{}
	return err
}

// identify reads the delivery count, replay counter and subject identity.
func (d *Deliverer) identify(msg jetstream.Msg, meta *jetstream.MsgMetadata) event {
	ev := event{msg: msg, meta: meta, attempt: int(meta.NumDelivered)}
	if r := msg.Headers().Get(HeaderReplay); r != "" {
		if n, err := strconv.Atoi(r); err == nil && n > 0 {
			ev.replay = n
		}
	}
	// <prefix>.deliver.<org_id>.<source>, a partition's
	// <prefix>.partition.<P>.<k>.<lane key>.<org_id>.<source>, or the
	// overflow stream's <prefix>.overflow.<lane>.<org_id>.<source>: the
	// organization and source are the last two tokens.
	tokens := strings.Split(msg.Subject(), ".")
	ev.orgID, ev.source = "_unknown", "_unknown"
	if n := len(tokens); n == 4 || n == 5 || n == 7 {
		if envelope.ValidOrgID(tokens[n-2]) {
			ev.orgID = tokens[n-2]
		}
		if envelope.ValidOrgID(tokens[n-1]) {
			ev.source = tokens[n-1]
		}
	}
	ev.eventID = "seq-" + strconv.FormatUint(meta.Sequence.Stream, 10)
	if id := msg.Headers().Get("Nats-Msg-Id"); envelope.ValidOrgID(id) && len(id) <= 64 {
		ev.eventID = id
	}
	return ev
}

// matchSubject refuses a request published on another organization's or
// source's subject.
func (d *Deliverer) matchSubject(ev event, req *envelope.Request) error {
	org, src, ok := d.cfg.Streams.ParseDeliverSubject(ev.msg.Subject())
	if !ok || org != req.OrgID || src != req.Source {
		return fmt.Errorf("%w: published on subject %q but org_id/source say %q", envelope.ErrInvalid, ev.msg.Subject(), d.cfg.Streams.DeliverSubject(req.OrgID, req.Source))
	}
	return nil
}

// heartbeat tells the server every HeartbeatInterval that the message is
// still being worked on, so a long attempt is not redelivered to another
// deliverer. The returned func stops it.
func (d *Deliverer) heartbeat(msg jetstream.Msg) func() {
	var (
		mu      sync.Mutex
		stopped bool
		timer   *time.Timer
	)
	every := d.cfg.HeartbeatInterval
	mu.Lock()
	timer = time.AfterFunc(every, func() {
		_ = msg.InProgress()
		mu.Lock()
		if !stopped {
			timer.Reset(every)
		}
		mu.Unlock()
	})
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		timer.Stop()
		mu.Unlock()
	}
}
