package deliver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/pkg/retry"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// source is one durable consumer the deliverer pulls from: the
// unpartitioned stream's, or one lane's of a partition.
type source struct {
	part     streams.Partition
	lane     streams.Lane
	consumer jetstream.Consumer
	// messages opens a pull; tests replace it to simulate a stuck pull.
	messages func(opts ...jetstream.PullMessagesOpt) (jetstream.MessagesContext, error)
	pulled   prometheus.Counter

	pulling atomic.Bool
	lastMsg atomic.Int64                              // unix nanoseconds of the last message pulled
	current atomic.Pointer[jetstream.MessagesContext] // the pull in use, for the watchdog
	gone    atomic.Bool                               // its stream was removed: the pull loop ended

	waiting atomic.Int64  // its messages in the waiting room
	freed   chan struct{} // one of them left the room; buffered (1)

	backlogState // for moving a backlog to the overflow stream (overflow.go)
}

// wanted reports whether the deliverer consumes partition p: the
// unpartitioned stream always, a partition of the configured count when no
// subset is configured or it is in the subset, and a partition of another
// count (left from a change of the count, draining) always.
func (c Config) wanted(p streams.Partition) bool {
	if p.Of == 0 || p.Of != c.Streams.Partitions || len(c.OnlyPartitions) == 0 {
		return true
	}
	return slices.Contains(c.OnlyPartitions, p.Index)
}

// bindSources binds the consumer of every partition the deliverer
// consumes. The unpartitioned stream's and the configured partitions'
// consumers must exist (streams.Ensure creates them); a stream of another
// count without the consumer is skipped.
func (d *Deliverer) bindSources(ctx context.Context) ([]*source, error) {
	parts, err := streams.DeliverPartitions(ctx, d.js, d.cfg.Streams)
	if err != nil {
		return nil, fmt.Errorf("deliver: %w", err)
	}
	found := map[string]bool{}
	for _, p := range parts {
		found[p.Stream] = true
	}
	for _, p := range d.cfg.Streams.ConfiguredPartitions() {
		if !found[p.Stream] {
			return nil, fmt.Errorf("deliver: stream %s (partition %s) does not exist: run streams.Ensure with the same partition count first", p.Stream, p.Label())
		}
	}
	var out []*source
	for _, p := range parts {
		if !d.cfg.wanted(p) {
			continue
		}
		for _, l := range d.cfg.Streams.LanesOf(p) {
			src, err := d.bind(ctx, l)
			if err != nil {
				if p.Of != 0 && p.Of != d.cfg.Streams.Partitions && errors.Is(err, jetstream.ErrConsumerNotFound) {
					continue
				}
				return nil, err
			}
			out = append(out, src)
		}
	}
	return out, nil
}

// bind binds the deliverers' consumer of lane l.
func (d *Deliverer) bind(ctx context.Context, l streams.Lane) (*source, error) {
	cons, err := d.js.Consumer(ctx, l.Partition.Stream, l.Consumer)
	if err != nil {
		return nil, fmt.Errorf("deliver: bind consumer %s on %s: %w", l.Consumer, l.Partition.Stream, err)
	}
	return &source{part: l.Partition, lane: l, consumer: cons, messages: cons.Messages, pulled: d.metrics.Pulled(l.Partition.Label()),
		freed: make(chan struct{}, 1)}, nil
}

// discover looks for partition streams made after start (a change of the
// partition count under way) every DiscoverEvery and starts pulling from
// each, until ctx ends.
func (d *Deliverer) discover(ctx context.Context, start func(*source)) {
	retry.Every(ctx, d.cfg.DiscoverEvery, func() { d.discoverOnce(ctx, start) })
}

// discoverOnce starts pulling from the lanes of every partition stream
// that are not pulled from yet.
func (d *Deliverer) discoverOnce(ctx context.Context, start func(*source)) {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	parts, err := streams.DeliverPartitions(dctx, d.js, d.cfg.Streams)
	if err != nil {
		d.log.Warn().Err(err).Msg("cannot list the partition streams; trying again later")
		return
	}
	for _, p := range parts {
		if !d.cfg.wanted(p) {
			continue
		}
		for _, l := range d.cfg.Streams.LanesOf(p) {
			if d.hasSource(l) {
				continue
			}
			src, err := d.bind(dctx, l)
			if err != nil {
				if !errors.Is(err, jetstream.ErrConsumerNotFound) {
					d.log.Warn().Err(err).Str("stream", p.Stream).Str("consumer", l.Consumer).Msg("cannot pull from a new partition stream; trying again later")
				}
				continue
			}
			d.log.Info().Str("stream", p.Stream).Str("consumer", l.Consumer).Str("partition", l.Label()).Msg("pulling from a new partition stream")
			start(src)
		}
	}
}

// sourcePrefetch is src's pull buffer: Prefetch shared among the sources
// pulled from but the overflow lanes, at least 1 message each; an overflow
// lane, usually empty, has a 2·OverflowLanes-th of Prefetch of its own, so
// that the overflow stream does not shrink the other pulls. A source whose
// backlog is being moved has all of Prefetch: its messages leave the
// buffer as fast as they are published elsewhere. A pull keeps
// the size it was made with until it is made again.
func (d *Deliverer) sourcePrefetch(src *source) int {
	if src.movers.Load() != nil {
		return d.cfg.Prefetch
	}
	if src.part.Overflow {
		return max(1, d.cfg.Prefetch/(2*streams.OverflowLanes))
	}
	n := 0
	for _, s := range d.activeSources() {
		if !s.part.Overflow {
			n++
		}
	}
	if n <= 1 {
		return d.cfg.Prefetch
	}
	return max(1, (d.cfg.Prefetch+n-1)/n)
}

// hasSource reports whether the deliverer pulls from lane l.
func (d *Deliverer) hasSource(l streams.Lane) bool {
	d.sourcesMu.Lock()
	defer d.sourcesMu.Unlock()
	for _, s := range d.sources {
		if s.lane == l && !s.gone.Load() {
			return true
		}
	}
	return false
}

// activeSources returns the sources being pulled from.
func (d *Deliverer) activeSources() []*source {
	d.sourcesMu.Lock()
	defer d.sourcesMu.Unlock()
	out := make([]*source, 0, len(d.sources))
	for _, s := range d.sources {
		if !s.gone.Load() {
			out = append(out, s)
		}
	}
	return out
}

// givenUp marks src gone and logs it when err says its stream was removed
// (see streamGone); it reports whether the pull loop must end.
func (d *Deliverer) givenUp(src *source, err error, log zerolog.Logger) bool {
	if !d.streamGone(src, err) {
		return false
	}
	src.gone.Store(true)
	log.Info().Err(err).Msg("partition stream removed (drained after a change of the partition count): no longer pulling from it")
	return true
}

// streamGone reports whether err says that src's stream or consumer no
// longer exists, for a partition of another count (removed once drained):
// its pull loop ends. The configured streams are never given up.
func (d *Deliverer) streamGone(src *source, err error) bool {
	if src.part.Of == 0 || src.part.Of == d.cfg.Streams.Partitions {
		return false
	}
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, ierr := src.consumer.Info(ctx)
	return errors.Is(ierr, jetstream.ErrConsumerNotFound) || errors.Is(ierr, jetstream.ErrStreamNotFound)
}
