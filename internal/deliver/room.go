package deliver

import (
	"context"
	"time"
)

// The waiting room holds the messages waiting for a busy host's (or a
// capped organization's) slot, without a worker slot each. It bounds how
// many a deliverer holds (MaxWaiting) and shares the places among the
// sources whose messages wait, so that one busy host does not stop every
// pull:
//
//   - a source with no message in the room may always take its next one,
//     so a lane whose organizations are not waiting for anything goes on
//     however full the room is (what the room then holds beyond
//     MaxWaiting is bounded by the worker slots: a message enters the room
//     only from one);
//   - a source with messages in the room may take the next one while the
//     room has a free place and the source holds less than its share:
//     MaxWaiting divided by the number of sources with messages in it.
//     A lone such source may fill the room (work-conserving).
//
// A source at its share pauses; its lane-mates (the organizations of its
// lane) wait with it, as they wait behind its backlog on the stream.

// enterRoom counts one message of src into the room.
func (d *Deliverer) enterRoom(src *source) {
	d.room.Add(1)
	if src.waiting.Add(1) == 1 {
		d.holders.Add(1)
	}
	d.metrics.Waiting(1)
}

// leaveRoom counts one message of src out of the room, and wakes a pull
// loop that may go on: src's own, and the longest-paused one, if any.
func (d *Deliverer) leaveRoom(src *source) {
	d.metrics.Waiting(-1)
	if src.waiting.Add(-1) == 0 {
		d.holders.Add(-1)
	}
	d.room.Add(-1)
	select {
	case src.freed <- struct{}{}:
	default:
	}
	select {
	case d.roomFreed <- struct{}{}:
	default:
	}
}

// mayPull reports whether src may take its next message (see the rules
// above).
func (d *Deliverer) mayPull(src *source) bool {
	held := src.waiting.Load()
	if held == 0 {
		return true
	}
	if d.room.Load() >= int64(d.cfg.MaxWaiting) {
		return false
	}
	return held < d.roomShare()
}

// roomShare is the most messages one source may hold in the room.
func (d *Deliverer) roomShare() int64 {
	return max(1, int64(d.cfg.MaxWaiting)/max(1, d.holders.Load()))
}

// awaitRoom waits until src may take its next message; false when ctx
// ended first. The loops paused here are woken as places free (src's own
// message leaving, or the longest-paused loop for any place), and look
// again every roomPoll, since a wake-up can be missed (a place freed just
// before the loop paused, or given to a loop that is at its share).
func (d *Deliverer) awaitRoom(ctx context.Context, src *source) bool {
	if d.mayPull(src) {
		return true
	}
	poll := time.NewTimer(roomPoll)
	defer poll.Stop()
	for !d.mayPull(src) {
		select {
		case <-src.freed:
		case <-d.roomFreed:
		case <-poll.C:
			poll.Reset(roomPoll)
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// roomPoll bounds a pull loop's pause on the room when no wake-up reaches
// it.
const roomPoll = 5 * time.Millisecond
