package status

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/undelivered"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// maxReplayScan bounds the WEBHOOKS messages one status reads when it looks
// for an event's queued replay: the pending deliveries of the event's
// organization and source, oldest first. A replay behind more than that
// many is not reported as queued (the status shows the failed round, no
// longer in the undelivered stream).
const maxReplayScan = 1000

// addReplay completes s after an operator replay. A failed round that left
// the undelivered stream, and whose replay waits on WEBHOOKS, becomes that
// replay's round (ReplayQueued); a replay's round gets the round before it.
func (l *lookup) addReplay(ctx context.Context, s *Status) error {
	if s.Final && s.State == envelope.StateUndelivered && !s.InUndelivered {
		msg, err := l.queuedReplay(ctx, s, s.Replay+1)
		if err != nil {
			return err
		}
		if msg != nil {
			*s = queued(*s, s.Replay+1, msg)
			return nil
		}
	}
	if s.Replay == 0 {
		return nil
	}
	prev, err := l.previousRound(ctx, s)
	if err != nil {
		return err
	}
	s.PreviousRound = prev
	return nil
}

// queued returns the status of replay n of the event whose failed round is
// failed: stored on WEBHOOKS (or moved to the overflow stream) as msg, not
// attempted yet.
func queued(failed Status, n int, msg *jetstream.RawStreamMsg) Status {
	return Status{
		EventID: failed.EventID, OrgID: failed.OrgID, Source: failed.Source, EventType: failed.EventType,
		TaskID: failed.TaskID, RunID: failed.RunID, Host: failed.Host, State: envelope.StateRetrying,
		QueuedAt: streams.QueuedAt(msg.Header, msg.Time).UTC(), Replay: n, ReplayQueued: true, PreviousRound: roundOf(failed),
	}
}

// queuedReplay returns the message of replay n of s's event waiting on
// WEBHOOKS, on its organization's partition or on the overflow stream, or
// nil when it is not there
// (not replayed, attempted and acknowledged, or more than maxReplayScan
// messages in).
func (l *lookup) queuedReplay(ctx context.Context, s *Status, n int) (*jetstream.RawStreamMsg, error) {
	if !envelope.ValidOrgID(s.OrgID) || (s.Source != string(envelope.SourceJob) && s.Source != string(envelope.SourceWorkflow)) {
		return nil, nil
	}
	// <prefix>.deliver.<org>.<source>, or .waiting. while a workflow run
	// waits for its CSV, on WEBHOOKS; the partition's own subject there.
	for name, subject := range l.sc.PendingFilters(s.OrgID, envelope.Source(s.Source)) {
		stream, err := openStream(ctx, l.js, name)
		if err != nil {
			return nil, err
		}
		if stream == nil {
			continue
		}
		if msg, err := l.findReplay(ctx, stream, subject, s, n); msg != nil || err != nil {
			return msg, err
		}
	}
	return nil, nil
}

// findReplay scans subject of stream for replay n of s's event.
func (l *lookup) findReplay(ctx context.Context, stream jetstream.Stream, subject string, s *Status, n int) (*jetstream.RawStreamMsg, error) {
	ids, replay := s.EventID+":", strconv.Itoa(n)
	seq := uint64(1)
	for range maxReplayScan {
		msg, err := stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("status: look for replay %d of %s on %s: %w", n, s.EventID, stream.CachedInfo().Config.Name, err)
		}
		if msg.Header.Get(undelivered.HeaderReplay) == replay && strings.HasPrefix(msg.Header.Get(nats.MsgIdHdr), ids) {
			return msg, nil
		}
		seq = msg.Sequence + 1
	}
	return nil, nil
}

// previousRound returns the latest round of s's event before s's, from
// the delivery log, or nil when the log no longer holds it.
func (l *lookup) previousRound(ctx context.Context, s *Status) (*Round, error) {
	tl, err := l.store.Timeline(ctx, s.OrgID, s.EventID)
	if errors.Is(err, logstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("status: timeline of %s: %w", s.EventID, err)
	}
	var prev *Round
	for _, r := range tl.Rounds { // oldest first
		if r.Replay < s.Replay {
			prev = roundOf(fromDelivery(r.Delivery))
		}
	}
	return prev, nil
}
