package streams

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// scanRecheck is how long Scan waits before asking the server again for
// the pending count when a fetch found nothing although messages were
// counted as pending (they were deleted or expired meanwhile), so that a
// consumer lagging behind the stream is not busy-polled.
const scanRecheck = 20 * time.Millisecond

// scanInactive is how long the server keeps a scan's consumer when Scan
// could not delete it (the process died mid-scan), unless cfg says.
const scanInactive = 5 * time.Minute

// Scan feeds yield every message that a consumer on stream with cfg
// delivers, in stream order, up to the stream's last sequence when Scan
// starts, batch messages at a time, until yield returns false or ctx ends.
// Messages deleted while it runs are skipped. It reads with one ephemeral,
// unacknowledged, in-memory consumer that it deletes at the end (the
// server removes it after cfg.InactiveThreshold anyway); an ordered
// consumer would make a new server-side consumer for every batch. A gap in
// the consumer's delivery sequence (a message lost between the server and
// this process) is an error, never a silent skip. Errors are JetStream's,
// wrapped.
func Scan(ctx context.Context, stream jetstream.Stream, cfg jetstream.OrderedConsumerConfig, batch int,
	yield func(jetstream.Msg, *jetstream.MsgMetadata) bool) error {
	name := stream.CachedInfo().Config.Name
	last := stream.CachedInfo().State.LastSeq
	if stream.CachedInfo().State.Msgs == 0 {
		return nil
	}
	cons, err := stream.CreateConsumer(ctx, scanConsumerConfig(cfg))
	if err != nil {
		return fmt.Errorf("streams: read %s: %w", name, err)
	}
	defer removeConsumer(stream, cons)
	var delivered uint64
	for pending := cons.CachedInfo().NumPending; pending > 0; {
		if err := ctx.Err(); err != nil {
			return err
		}
		msgs, err := cons.FetchNoWait(batch)
		if err != nil {
			return fmt.Errorf("streams: read %s: %w", name, err)
		}
		got := 0
		for msg := range msgs.Messages() {
			got++
			meta, err := msg.Metadata()
			if err != nil {
				return fmt.Errorf("streams: read %s: message metadata: %w", name, err)
			}
			if meta.Sequence.Consumer != delivered+1 {
				return fmt.Errorf("streams: read %s: delivery %d arrived after %d: messages were lost in transit",
					name, meta.Sequence.Consumer, delivered)
			}
			delivered = meta.Sequence.Consumer
			if meta.Sequence.Stream > last || !yield(msg, meta) {
				return nil
			}
			pending = meta.NumPending
		}
		if err := msgs.Error(); err != nil {
			return fmt.Errorf("streams: read %s: %w", name, err)
		}
		if got == 0 {
			if pending, err = refreshPending(ctx, cons); err != nil {
				return fmt.Errorf("streams: read %s: %w", name, err)
			}
		}
	}
	return nil
}

// scanConsumerConfig is the ephemeral consumer Scan reads with: cfg's
// filters and start, no acknowledgements, one replica in memory.
func scanConsumerConfig(cfg jetstream.OrderedConsumerConfig) jetstream.ConsumerConfig {
	inactive := cfg.InactiveThreshold
	if inactive <= 0 {
		inactive = scanInactive
	}
	return jetstream.ConsumerConfig{
		FilterSubjects:    cfg.FilterSubjects,
		DeliverPolicy:     cfg.DeliverPolicy,
		OptStartSeq:       cfg.OptStartSeq,
		OptStartTime:      cfg.OptStartTime,
		ReplayPolicy:      cfg.ReplayPolicy,
		HeadersOnly:       cfg.HeadersOnly,
		Metadata:          cfg.Metadata,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: inactive,
		MemoryStorage:     true,
		Replicas:          1,
	}
}

// refreshPending returns the consumer's pending count after scanRecheck.
func refreshPending(ctx context.Context, cons jetstream.Consumer) (uint64, error) {
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(scanRecheck):
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("consumer info: %w", err)
	}
	return info.NumPending, nil
}

// removeConsumer deletes a scan's ephemeral consumer, best effort.
func removeConsumer(stream jetstream.Stream, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = stream.DeleteConsumer(ctx, info.Name)
}
