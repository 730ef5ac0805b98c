package logwriter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/retry"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// discoverTimeout bounds one listing of the attempt streams and the
// binding of the new ones.
const discoverTimeout = 5 * time.Second

// source is one attempt stream and the log writers' consumer on it.
type source struct {
	part     streams.Partition
	consumer jetstream.Consumer
}

// main reports whether src is WEBHOOKS_ATTEMPTS, which is never given up.
func (src source) main() bool { return src.part.Of == 0 }

// isGone reports whether err says that a stream or its consumer does not
// exist.
func isGone(err error) bool {
	return errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrConsumerNotFound)
}

// bind binds the log writers' consumer on the attempt partition p,
// creating it (streams.Config.LogConsumerConfig) when the stream has none.
// The error wraps jetstream.ErrStreamNotFound when the stream is gone.
func (w *Writer) bind(ctx context.Context, p streams.Partition) (source, error) {
	sc := w.cfg.Streams
	cons, err := w.js.Consumer(ctx, p.Stream, sc.LogConsumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		if cons, err = w.js.CreateOrUpdateConsumer(ctx, p.Stream, sc.LogConsumerConfig()); err != nil {
			return source{}, fmt.Errorf("logwriter: create consumer %s on %s: %w", sc.LogConsumer, p.Stream, err)
		}
		w.log.Info().Str("stream", p.Stream).Str("consumer", sc.LogConsumer).Msg("created the log writers' consumer on an attempt stream without one")
	}
	if err != nil {
		return source{}, fmt.Errorf("logwriter: bind consumer %s on %s: %w", sc.LogConsumer, p.Stream, err)
	}
	return source{part: p, consumer: cons}, nil
}

// rebind binds src's consumer again after its pull failed. It returns
// false when the pump must end: ctx ended, or src is an attempt partition
// whose stream or consumer is gone (logged once, at info). On
// WEBHOOKS_ATTEMPTS, and on any other error, it retries every second.
func (w *Writer) rebind(ctx context.Context, src *source) bool {
	for {
		cons, err := w.js.Consumer(ctx, src.part.Stream, w.cfg.Streams.LogConsumer)
		switch {
		case err == nil:
			src.consumer = cons
			return true
		case ctx.Err() != nil:
			return false
		case isGone(err) && !src.main():
			w.log.Info().Err(err).Str("stream", src.part.Stream).
				Msg("attempt stream or its log consumer removed (drained after a change of the partition count): no longer pulling from it")
			return false
		}
		w.log.Error().Err(err).Str("stream", src.part.Stream).Msg("cannot bind the log writers' consumer; retrying in 1s")
		if !retry.Pause(ctx, time.Second) {
			return false
		}
	}
}

// pump is the service loop of one attempt stream: it pulls the messages
// of src's consumer and sends them to out, re-creating the pull (and
// binding the consumer again) after an error, until ctx ends or src's
// stream is gone. It only schedules: the batching loop writes.
func (w *Writer) pump(ctx context.Context, src source, out chan<- jetstream.Msg) {
	defer w.release(src.part.Stream)
	log := w.log.With().Str("stream", src.part.Stream).Logger()
	for ctx.Err() == nil {
		it, err := src.consumer.Messages(jetstream.PullMaxMessages(w.pullSize()))
		if err != nil {
			log.Error().Err(err).Msg("cannot start pulling; retrying in 1s")
			if !retry.Pause(ctx, time.Second) || !w.rebind(ctx, &src) {
				return
			}
			continue
		}
		w.setPulling(src, true)
		err = forward(ctx, it, out)
		w.setPulling(src, false)
		it.Stop()
		if err == nil {
			return // ctx ended
		}
		log.Warn().Err(err).Msg("pull interrupted; re-creating the pull")
		if !retry.Pause(ctx, 100*time.Millisecond) || !w.rebind(ctx, &src) {
			return
		}
	}
}

// forward sends the iterator's messages to out until ctx ends (it returns
// nil) or the iterator fails (its error). A message taken when ctx ends is
// left unacknowledged, as the prefetched ones are: the server delivers it
// again after AckWait.
func forward(ctx context.Context, it jetstream.MessagesContext, out chan<- jetstream.Msg) error {
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case out <- msg:
		case <-ctx.Done():
			return nil
		}
	}
}

// discover lists the attempt streams every DiscoverEvery and starts a
// pump on each one no pump runs on, until ctx ends.
func (w *Writer) discover(ctx context.Context, start func(source) bool) {
	retry.Every(ctx, w.cfg.DiscoverEvery, func() { w.discoverOnce(ctx, start) })
}

// discoverOnce is one round of discover.
func (w *Writer) discoverOnce(ctx context.Context, start func(source) bool) {
	dctx, cancel := context.WithTimeout(ctx, discoverTimeout)
	defer cancel()
	parts, err := streams.AttemptStreams(dctx, w.js, w.cfg.Streams)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn().Err(err).Msg("cannot list the attempt streams; trying again later")
		}
		return
	}
	for _, p := range parts {
		if p.Of == 0 || w.pumping(p.Stream) {
			continue // WEBHOOKS_ATTEMPTS's pump runs until Run ends
		}
		src, err := w.bind(dctx, p)
		if err != nil {
			if !isGone(err) && ctx.Err() == nil {
				w.log.Warn().Err(err).Str("stream", p.Stream).Msg("cannot pull from a new attempt stream; trying again later")
			}
			continue
		}
		if start(src) {
			w.log.Info().Str("stream", p.Stream).Str("partition", p.Label()).Msg("pulling from a new attempt stream")
		}
	}
}

// claim registers a pump on stream; false when one runs on it already.
func (w *Writer) claim(stream string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.pending[stream]; ok {
		return false
	}
	w.pending[stream] = 0
	return true
}

// release unregisters the pump of stream, which ended: its pending
// records no longer count.
func (w *Writer) release(stream string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.pending, stream)
}

// pumping reports whether a pump runs on stream.
func (w *Writer) pumping(stream string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.pending[stream]
	return ok
}

// pullSize is the buffer of a new pull: 2 × Batch shared among the
// streams pulled from (at least 1 message each), so that the messages
// delivered and waiting for the batching loop (their AckWait running)
// stay about as many as with one stream. A pull keeps its size until it
// is re-created.
func (w *Writer) pullSize() int {
	w.mu.Lock()
	n := len(w.pending)
	w.mu.Unlock()
	if n <= 1 {
		return 2 * w.cfg.Batch
	}
	return max(1, (2*w.cfg.Batch+n-1)/n)
}

// setPulling records whether src has a pull open: Status.Consuming
// follows WEBHOOKS_ATTEMPTS's.
func (w *Writer) setPulling(src source, on bool) {
	if !src.main() {
		return
	}
	w.mu.Lock()
	w.status.Consuming = on
	w.mu.Unlock()
}
