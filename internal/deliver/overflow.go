package deliver

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// Moving a backlog out of the way. A lane's consumer delivers in arrival
// order, so an organization whose events share a lane with another's
// backlog waits for that backlog to be delivered. When a lane has at least
// OverflowThreshold messages pending, the deliverer counts them by
// organization (the stream's per-subject counts) every OverflowCheckEvery;
// an organization with OverflowThreshold or more there, while another
// organization has messages there too, is moved: its messages pulled from
// the lane on their first delivery are published to the overflow stream
// (WEBHOOKS_OVERFLOW, on the organization's overflow lane) and only then
// acked, instead of being delivered. The lane then reaches the other
// organizations' events at the speed of moving, not of delivering. The
// overflow lanes are pulled from like any other lane, so the moved
// organizations take turns with everyone else. A lone organization is
// never moved (nobody waits behind it), so moving costs nothing when only
// one organization has traffic.

// maxMoving bounds the moves in flight in one process.
const maxMoving = 256

// movePause is how long moving stays off after a move failed (the
// overflow stream is unavailable): the lanes deliver in order meanwhile.
const movePause = 30 * time.Second

// moveTimeout bounds one move's publish.
const moveTimeout = 5 * time.Second

// overflowKeep is the fraction of OverflowThreshold at which an organization
// already being moved from a lane stops being moved (hysteresis: the last of
// its backlog ahead of the others is moved too).
const overflowKeep = 10

// movers is the set of organizations moved from one lane.
type movers map[string]struct{}

// watchBacklogs decides, every OverflowCheckEvery until ctx ends, which
// organizations are moved from each lane (see the comment at the top).
func (d *Deliverer) watchBacklogs(ctx context.Context) {
	if d.cfg.OverflowThreshold < 0 {
		return
	}
	retry.Every(ctx, d.cfg.OverflowCheckEvery, func() {
		srcs := d.activeSources()
		on := d.hasOverflow(srcs) && time.Now().UnixNano() >= d.movePausedUntil.Load()
		for _, src := range srcs {
			if !src.part.Overflow {
				d.checkBacklog(ctx, src, on)
			}
		}
	})
}

// checkBacklog decides which organizations are moved from src, with
// moving on or not (no overflow stream, or paused after a failed move).
func (d *Deliverer) checkBacklog(ctx context.Context, src *source, on bool) {
	current := src.movers.Load()
	var next movers
	if on {
		if current == nil && src.pending.Load() < uint64(d.cfg.OverflowThreshold) {
			return
		}
		var err error
		if next, err = d.backloggedOrgs(ctx, src, current); err != nil && ctx.Err() == nil {
			d.log.Warn().Err(err).Str("stream", src.part.Stream).Msg("cannot count a lane's messages by organization; delivering it in order meanwhile")
		}
	}
	d.setMovers(src, current, next)
}

// setMovers makes next the organizations moved from src (nil: none) and
// remakes src's pull when its buffer changes (see sourcePrefetch).
func (d *Deliverer) setMovers(src *source, current *movers, next movers) {
	if next == nil {
		src.movers.Store(nil)
	} else {
		src.movers.Store(&next)
	}
	if (current == nil) != (next == nil) {
		d.resizePull(src)
	}
	d.logMovers(src, current, next)
}

// resizePull makes src's pull again, with the buffer sourcePrefetch now
// gives it: it drains the current one (the messages already in its buffer
// are still handed out), and the pull loop then makes a new one.
func (d *Deliverer) resizePull(src *source) {
	if it := src.current.Load(); it != nil {
		src.resizing.Store(true)
		(*it).Drain()
	}
}

// hasOverflow reports whether the overflow stream is among srcs (a
// deployment whose streams an earlier release made has none).
func (d *Deliverer) hasOverflow(srcs []*source) bool {
	for _, s := range srcs {
		if s.part.Overflow {
			return true
		}
	}
	return false
}

// backloggedOrgs counts src's messages by organization and returns the
// organizations to move from it (nil for none): those with at least
// OverflowThreshold messages there (a tenth of it for those in current,
// already being moved), when another organization has messages there too.
func (d *Deliverer) backloggedOrgs(ctx context.Context, src *source, current *movers) (movers, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := d.js.Stream(cctx, src.part.Stream)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", src.part.Stream, err)
	}
	info, err := st.Info(cctx, jetstream.WithSubjectFilter(src.lane.Filter))
	if err != nil {
		return nil, fmt.Errorf("count %s's messages on %s: %w", src.lane.Filter, src.part.Stream, err)
	}
	perOrg := map[string]uint64{}
	for subject, n := range info.State.Subjects {
		if org, _, ok := d.cfg.Streams.ParseDeliverSubject(subject); ok {
			perOrg[org] += n
		}
	}
	if len(perOrg) < 2 {
		return nil, nil
	}
	var out movers
	for org, n := range perOrg {
		limit := uint64(d.cfg.OverflowThreshold)
		if current != nil {
			if _, moving := (*current)[org]; moving {
				limit = max(1, limit/overflowKeep)
			}
		}
		if n >= limit {
			if out == nil {
				out = movers{}
			}
			out[org] = struct{}{}
		}
	}
	return out, nil
}

// logMovers logs the organizations that start or stop being moved.
func (d *Deliverer) logMovers(src *source, before *movers, after movers) {
	var was movers
	if before != nil {
		was = *before
	}
	log := func(org, msg string) {
		d.log.Info().Str("org_id", org).Str("stream", src.part.Stream).Str("partition", src.lane.Label()).Msg(msg)
	}
	for org := range after {
		if _, moving := was[org]; !moving {
			log(org, "organization's backlog holds others up in its lane: moving its new messages to the overflow stream")
		}
	}
	for org := range was {
		if _, still := after[org]; !still {
			log(org, "organization no longer holds others up in its lane: delivering it from there again")
		}
	}
}

// moveTo is whose overflow subject a moved message goes to.
type moveTo struct {
	org    string
	source envelope.Source
}

// moveTarget reports whether msg, just pulled from src, is to be moved,
// and whose it is: an organization being moved from src, on its first
// delivery (a retry waits out its delay on the lane, with its attempt
// count).
func (d *Deliverer) moveTarget(src *source, msg jetstream.Msg) (moveTo, bool) {
	m := src.movers.Load()
	if m == nil {
		return moveTo{}, false
	}
	org, source, ok := d.cfg.Streams.ParseDeliverSubject(msg.Subject())
	if !ok {
		return moveTo{}, false
	}
	if _, moved := (*m)[org]; !moved {
		return moveTo{}, false
	}
	if meta, err := msg.Metadata(); err != nil || meta.NumDelivered != 1 {
		return moveTo{}, false
	}
	return moveTo{org: org, source: source}, true
}

// move publishes p's message to to's overflow subject, then acks
// it on its lane, in a goroutine of its own; at most maxMoving run at once
// (the pull waits for one to end). When the publish fails, moving is
// paused for movePause and the message is delivered from here after all.
// It returns false when ctx ended before the move could start; the message
// is then left unacknowledged and redelivered after AckWait.
func (d *Deliverer) move(ctx, work context.Context, p pulled, to moveTo) bool {
	select {
	case d.moving <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	d.inflight.Add(1)
	go func() {
		defer func() {
			<-d.moving
			d.inflight.Done()
		}()
		if err := d.publishMoved(work, p.msg, to); err != nil {
			d.pauseMoving(err)
			d.deliverHere(work, p)
			return
		}
		// If this ack is lost, the message comes back on its lane (as a
		// redelivery, which is not moved) and is delivered from both: a
		// duplicate POST, as after any lost ack.
		_ = p.msg.Ack()
		d.metrics.Moved(p.src.part.Label())
	}()
	return true
}

// publishMoved stores msg on the overflow stream (see
// streams.Config.MovedMsg).
func (d *Deliverer) publishMoved(ctx context.Context, msg jetstream.Msg, to moveTo) error {
	meta, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("message metadata: %w", err)
	}
	out := d.cfg.Streams.MovedMsg(to.org, to.source, msg.Headers(), msg.Data(), meta.Stream, meta.Sequence.Stream, meta.Timestamp)
	pctx, cancel := context.WithTimeout(ctx, moveTimeout)
	defer cancel()
	if _, err := d.js.PublishMsg(pctx, out, jetstream.WithExpectStream(d.cfg.Streams.OverflowStream())); err != nil {
		return fmt.Errorf("move %s/%d to %s: %w", meta.Stream, meta.Sequence.Stream, out.Subject, err)
	}
	return nil
}

// pauseMoving turns moving off for movePause after a failed move.
func (d *Deliverer) pauseMoving(err error) {
	until := time.Now().Add(movePause).UnixNano()
	if prev := d.movePausedUntil.Swap(until); prev < time.Now().UnixNano() {
		d.log.Warn().Err(err).Dur("pause", movePause).Msg("cannot move a message to the overflow stream: delivering every lane in order for a while")
	}
	for _, src := range d.activeSources() {
		if current := src.movers.Load(); current != nil {
			d.setMovers(src, current, nil)
		}
	}
}

// deliverHere delivers p as the pull loop would have: it takes a worker
// slot and handles the message. When work ends first, the message is left
// unacknowledged and redelivered after AckWait.
func (d *Deliverer) deliverHere(work context.Context, p pulled) {
	select {
	case d.slots <- struct{}{}:
	case <-work.Done():
		return
	}
	d.inflight.Add(1)
	d.metrics.InFlight(1)
	if !d.handle(work, p.msg, p.src) {
		d.done()
	}
}

// queuedAt is when a message's event was first stored: a moved message's
// streams.HeaderQueuedAt, else its own time on the stream.
func queuedAt(msg jetstream.Msg, meta *jetstream.MsgMetadata, moved bool) time.Time {
	if moved {
		return streams.QueuedAt(msg.Headers(), meta.Timestamp)
	}
	return meta.Timestamp
}

// backlogState is what a source keeps for moving: embedded in source.
type backlogState struct {
	pending  atomic.Uint64          // NumPending after its last message
	movers   atomic.Pointer[movers] // the organizations moved from it; nil: none
	resizing atomic.Bool            // its pull is being drained to be made again
}
