package undelivered

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// HeaderReplay is the header of a replayed delivery request that carries
// the replay counter, 1 for the first replay. It is the deliverer's
// deliver.HeaderReplay, repeated here so this package does not depend on
// the deliverer.
const HeaderReplay = "Sixtyfour-Replay"

// SampleSize is how many entries a dry run returns, and how many a
// confirmation callback is shown.
const SampleSize = 10

// ErrNotConfirmed is returned by Replay and Purge when the confirmation
// callback declined: nothing was changed.
var ErrNotConfirmed = errors.New("undelivered: not confirmed; nothing changed")

// ReplayOptions tune Replay. The zero value replays everything selected,
// as fast as possible, without asking.
type ReplayOptions struct {
	// DryRun counts what would be replayed and returns a sample of it;
	// nothing is published or deleted.
	DryRun bool
	// RatePerSecond bounds publishes per second (no bursts). 0 means
	// unlimited; negative values are refused.
	RatePerSecond float64
	// Confirm, when set, is called once the selection is counted, with the
	// count and up to SampleSize entries; unless it returns true nothing is
	// replayed and Replay returns ErrNotConfirmed. It is not called on a
	// dry run or when nothing matches.
	Confirm func(count int, sample []Entry) bool
	// Progress, when set, is called with (0, total) once the selection is
	// counted and then after each event, from the calling goroutine.
	Progress func(done, total int)
	// Now is the clock used for ReplaySummary.Duration. Defaults to time.Now.
	Now func() time.Time
	// History, when set, returns an event's latest round from the delivery
	// log (nil when the log has none), so that a replay interrupted after
	// its publish and run again after the dedupe window is not published
	// twice. Without it, that case relies on receivers deduplicating by
	// event id.
	History func(ctx context.Context, orgID, eventID string) (*envelope.Outcome, error)
}

// ReplaySummary is what Replay did.
type ReplaySummary struct {
	// Matched is how many undelivered events the filter selected.
	Matched int
	// Replayed is how many were published to WEBHOOKS by this call and
	// removed from the undelivered stream.
	Replayed int
	// Skipped is how many were already replayed (by an earlier, interrupted
	// run, or gone from the stream meanwhile): nothing was published for
	// them; a stale undelivered message was removed or refreshed.
	Skipped int
	// Failed is how many could not be replayed; Errors says why.
	Failed int
	// Errors holds one error per failed event.
	Errors []*EventError
	// Sample holds up to SampleSize selected entries on a dry run.
	Sample []Entry
	// Duration is how long Replay ran.
	Duration time.Duration
}

// EventError is the failure of one event in a Replay.
type EventError struct {
	// EventID is the event that failed.
	EventID string
	// Seq is its undelivered message's sequence.
	Seq uint64
	// Err says why.
	Err error
}

// Error implements error.
func (e *EventError) Error() string {
	return "event " + e.EventID + " (seq " + strconv.FormatUint(e.Seq, 10) + "): " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *EventError) Unwrap() error { return e.Err }

// Replay re-publishes the undelivered events that f selects to WEBHOOKS,
// oldest first, and removes each from the undelivered stream once its
// publish is acknowledged; see the package documentation for the
// guarantees when it is interrupted and run again.
//
// It returns an error (with the summary so far) when the filter is invalid
// (ErrInvalidFilter), the streams cannot be read, Confirm declines
// (ErrNotConfirmed) or ctx ends; an event that cannot be replayed is
// counted in Failed and does not stop the others.
func Replay(ctx context.Context, js jetstream.JetStream, sc streams.Config, f Filter, opts ReplayOptions) (sum ReplaySummary, err error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	defer func() { sum.Duration = now().Sub(start) }()
	if opts.RatePerSecond < 0 {
		return sum, fmt.Errorf("undelivered: rate %v per second must be >= 0", opts.RatePerSecond)
	}
	sc = sc.WithDefaults()
	var r *replayer
	r, err = newReplayer(ctx, js, sc, opts.RatePerSecond, now)
	if err == nil {
		r.history = opts.History
	}
	if err != nil {
		return sum, err
	}
	var refs, sample []Entry
	refs, sample, err = selectEntries(ctx, js, sc, r.undelivered, f)
	if err != nil {
		return sum, err
	}
	sum.Matched = len(refs)
	if opts.DryRun {
		sum.Sample = sample
		return sum, nil
	}
	if len(refs) > 0 && opts.Confirm != nil && !opts.Confirm(len(refs), sample) {
		return sum, ErrNotConfirmed
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(int, int) {}
	}
	progress(0, len(refs))
	for i, ref := range refs {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		res, err := r.replay(ctx, ref)
		if err != nil && ctx.Err() != nil {
			return sum, ctx.Err() // interrupted: not this event's failure
		}
		if errors.Is(err, errStopped) {
			return sum, fmt.Errorf("undelivered: %w", err)
		}
		switch {
		case err != nil:
			sum.Failed++
			sum.Errors = append(sum.Errors, &EventError{EventID: ref.EventID(), Seq: ref.Seq, Err: err})
		case res == resultReplayed:
			sum.Replayed++
		default:
			sum.Skipped++
		}
		progress(i+1, len(refs))
	}
	return sum, nil
}

// selectEntries returns every entry that f selects, read without bodies,
// and the first SampleSize of them with their bodies.
func selectEntries(ctx context.Context, js jetstream.JetStream, sc streams.Config, stream jetstream.Stream, f Filter) ([]Entry, []Entry, error) {
	m, err := f.compile()
	if err != nil {
		return nil, nil, err
	}
	var refs []Entry
	err = scan(ctx, js, sc, m, true, func(e Entry) bool {
		refs = append(refs, e)
		return true
	})
	if err != nil {
		return nil, nil, err
	}
	sample := make([]Entry, 0, min(len(refs), SampleSize))
	for _, ref := range refs {
		if len(sample) == SampleSize {
			break
		}
		e, err := entryAt(ctx, stream, ref.Seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("undelivered: read message %d: %w", ref.Seq, err)
		}
		sample = append(sample, e)
	}
	return refs, sample, nil
}

// newReplayer opens the streams a replay uses.
func newReplayer(ctx context.Context, js jetstream.JetStream, sc streams.Config, perSecond float64, now func() time.Time) (*replayer, error) {
	r := &replayer{js: js, sc: sc, now: now, limiter: rate.NewLimiter(rate.Inf, 1)}
	if perSecond > 0 {
		r.limiter = rate.NewLimiter(rate.Limit(perSecond), 1)
	}
	var err error
	if r.undelivered, err = js.Stream(ctx, sc.UndeliveredStream); err != nil {
		return nil, fmt.Errorf("undelivered: open stream %s: %w", sc.UndeliveredStream, err)
	}
	return r, nil
}
