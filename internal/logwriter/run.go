package logwriter

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
)

// Run drains the attempt stream until ctx ends; the batch being written
// then is finished (within WriteTimeout) and acked. It returns nil after a
// clean shutdown.
func (w *Writer) Run(ctx context.Context) error {
	w.log.Info().Str("consumer", w.cfg.Streams.LogConsumer).Int("batch", w.cfg.Batch).Msg("log writer started")
	defer w.log.Info().Msg("log writer stopped")
	for ctx.Err() == nil {
		it, err := w.consumer.Messages(jetstream.PullMaxMessages(2 * w.cfg.Batch))
		if err != nil {
			w.log.Error().Err(err).Msg("cannot start pulling; retrying in 1s")
			if !retry.Pause(ctx, time.Second) {
				return nil
			}
			continue
		}
		w.setConsuming(true)
		w.drain(ctx, it)
		w.setConsuming(false)
		it.Stop()
	}
	return nil
}

// drain writes batches from one iterator until ctx ends or the iterator
// fails.
func (w *Writer) drain(ctx context.Context, it jetstream.MessagesContext) {
	batch := make([]jetstream.Msg, 0, w.cfg.Batch)
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn().Err(err).Msg("pull interrupted; re-creating the pull")
				retry.Pause(ctx, 100*time.Millisecond)
			}
			return
		}
		batch = append(batch[:0], msg)
		linger := time.Now().Add(w.cfg.Linger)
		for len(batch) < w.cfg.Batch {
			wait := time.Until(linger)
			if wait <= 0 {
				break
			}
			msg, err := it.Next(jetstream.NextMaxWait(wait))
			if err != nil {
				break // the linger passed, or the pull failed: write what we have
			}
			batch = append(batch, msg)
		}
		w.writeBatch(context.WithoutCancel(ctx), batch)
		if d := w.retryDelay(); d > 0 && !retry.Pause(ctx, d) {
			return
		}
	}
}

// writeBatch decodes the batch, writes its records in one transaction and
// acks every message once committed; on failure it naks them all with the
// current retry delay.
func (w *Writer) writeBatch(ctx context.Context, batch []jetstream.Msg) {
	recs := make([]*envelope.AttemptRecord, 0, len(batch))
	keep := batch[:0:0]
	var newest time.Time
	var pending uint64
	var stamps []time.Time // arrival of each kept record, for Observe
	for _, msg := range batch {
		meta, err := msg.Metadata()
		var stamp time.Time
		if err == nil {
			stamp = meta.Timestamp
			if stamp.After(newest) {
				newest = stamp
			}
			pending = meta.NumPending
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
