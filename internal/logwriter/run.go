package logwriter

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
)

// Run drains every attempt stream until ctx ends: one pump per stream
// pulls its messages into a shared channel, one batching loop writes them
// (see writeBatch), and every DiscoverEvery the streams made since are
// found and pulled from as well. When ctx ends the pumps stop pulling, the
// batch being written is finished (within WriteTimeout) and acked, and Run
// returns nil once every goroutine it started has ended. Run is called
// once per Writer.
func (w *Writer) Run(ctx context.Context) error {
	names := make([]string, len(w.sources))
	for i, src := range w.sources {
		names[i] = src.part.Stream
	}
	w.log.Info().Str("consumer", w.cfg.Streams.LogConsumer).Int("batch", w.cfg.Batch).Strs("streams", names).
		Dur("discover_every", w.cfg.DiscoverEvery).Msg("log writer started")
	defer w.log.Info().Msg("log writer stopped")
	msgs := make(chan jetstream.Msg) // unbuffered: a message taken is in a batch
	var pumps sync.WaitGroup
	start := func(src source) bool {
		if !w.claim(src.part.Stream) {
			return false
		}
		pumps.Go(func() { w.pump(ctx, src, msgs) })
		return true
	}
	for _, src := range w.sources { // claimed first, so that the first pulls share their size among all
		w.claim(src.part.Stream)
	}
	for _, src := range w.sources {
		pumps.Go(func() { w.pump(ctx, src, msgs) })
	}
	pumps.Go(func() { w.discover(ctx, start) })
	w.batches(ctx, msgs)
	pumps.Wait()
	return nil
}

// batches writes the messages of in, in batches of up to Batch gathered
// for up to Linger after their first, until ctx ends; the batch gathered
// then is still written. After a failed write it waits the retry delay.
func (w *Writer) batches(ctx context.Context, in <-chan jetstream.Msg) {
	batch := make([]jetstream.Msg, 0, w.cfg.Batch)
	for {
		select {
		case msg := <-in:
			batch = append(batch[:0], msg)
		case <-ctx.Done():
			return
		}
		batch = w.linger(ctx, in, batch)
		w.writeBatch(context.WithoutCancel(ctx), batch)
		if d := w.retryDelay(); d > 0 && !retry.Pause(ctx, d) {
			return
		}
	}
}

// linger adds the messages of in to batch until it holds Batch, Linger
// has passed, or ctx ends.
func (w *Writer) linger(ctx context.Context, in <-chan jetstream.Msg, batch []jetstream.Msg) []jetstream.Msg {
	timer := time.NewTimer(w.cfg.Linger)
	defer timer.Stop()
	for len(batch) < w.cfg.Batch {
		select {
		case msg := <-in:
			batch = append(batch, msg)
		case <-timer.C:
			return batch
		case <-ctx.Done():
			return batch
		}
	}
	return batch
}

// writeBatch decodes the batch, writes its records in one transaction and
// acks every message once committed; on failure it naks them all with the
// current retry delay. Each message is acked or nak'ed itself, so a batch
// may mix streams.
func (w *Writer) writeBatch(ctx context.Context, batch []jetstream.Msg) {
	recs := make([]*envelope.AttemptRecord, 0, len(batch))
	keep := batch[:0:0]
	var newest time.Time
	behind := map[string]uint64{} // NumPending of each stream, from its last message
	var stamps []time.Time        // arrival of each kept record, for Observe
	for _, msg := range batch {
		meta, err := msg.Metadata()
		var stamp time.Time
		if err == nil {
			stamp = meta.Timestamp
			if stamp.After(newest) {
				newest = stamp
			}
			behind[meta.Stream] = meta.NumPending
		}
		r, err := envelope.DecodeAttemptRecord(msg.Data())
		if err != nil {
			w.cfg.Metrics.Malformed()
			w.log.Error().Err(err).Str("subject", msg.Subject()).Msg("attempt record does not decode; dropping it")
			_ = msg.TermWithReason("malformed attempt record")
			continue
		}
		recs = append(recs, r)
		keep = append(keep, msg)
		if w.cfg.Observe != nil {
			stamps = append(stamps, stamp)
		}
	}
	pending := w.notePending(behind)
	if len(recs) == 0 {
		return
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, w.cfg.WriteTimeout)
	err := w.store.Write(wctx, recs)
	cancel()
	w.cfg.Metrics.Batch(len(recs), time.Since(start).Seconds(), err)
	if err != nil {
		delay := w.failed(err, pending+uint64(len(keep)))
		w.log.Error().Err(err).Int("records", len(recs)).Dur("retry_in", delay).Msg("cannot write to the log store; the records wait on the stream")
		for _, msg := range keep {
			_ = msg.NakWithDelay(delay)
		}
		return
	}
	for _, msg := range keep {
		if err := msg.Ack(); err != nil {
			w.log.Warn().Err(err).Msg("ack failed; the record will be written again (idempotent)")
		}
	}
	now := w.cfg.Now()
	for _, at := range stamps {
		if !at.IsZero() {
			w.cfg.Observe(now.Sub(at))
		}
	}
	lag := now.Sub(newest).Seconds()
	w.cfg.Metrics.Lag(lag, pending)
	w.succeeded(lag, pending, len(recs))
}

// notePending records the records waiting on each stream of behind and
// returns the sum over every stream pulled from.
func (w *Writer) notePending(behind map[string]uint64) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var sum uint64
	for stream, n := range behind {
		if _, ok := w.pending[stream]; ok {
			w.pending[stream] = n
		}
	}
	for _, n := range w.pending {
		sum += n
	}
	return sum
}

// failed records a failed write and returns the delay before the next.
func (w *Writer) failed(err error, waiting uint64) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failing = min(max(2*w.failing, w.cfg.RetryDelay), w.cfg.MaxRetryDelay)
	w.status.LastError, w.status.Pending = err, waiting
	return w.failing
}

// succeeded records a committed batch.
func (w *Writer) succeeded(lag float64, pending uint64, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failing > 0 {
		w.log.Info().Msg("log store writes succeed again")
	}
	w.failing = 0
	w.status.LastError, w.status.LagSeconds, w.status.Pending = nil, lag, pending
	w.status.Written += uint64(n)
}

// retryDelay is the wait before the next batch: 0 while writes succeed.
func (w *Writer) retryDelay() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failing
}
