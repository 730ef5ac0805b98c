// Package logwriter is the log writer: it drains every attempt stream
// (WEBHOOKS_ATTEMPTS and the attempt partitions WEBHOOKS_ATTEMPTS_P<of>_<k>
// of every partition count that exists, including streams made after it
// starts) into the delivery log store, in batches, through the durable
// consumer of the same name that every writer process shares on each
// stream. One pump per stream pulls its messages, and one batching loop
// writes them all, so the store sees one writer per process (SQLite is
// single-writer) and a batch may mix streams. A batch is written in
// one transaction and its messages are acked only once it is committed,
// so a writer that dies mid-batch leaves the batch to be delivered again;
// the store's writes are idempotent (natural key event id + replay +
// attempt), so the rows are the same. While the store fails, the batch is
// nak'ed with a growing delay and the records wait on the stream (up to
// STREAMS_ATTEMPTS_MAX_AGE); the writer reports not ready meanwhile.
//
// A record that does not decode is logged, counted and terminated: it can
// never be stored, and must not hold the others.
package logwriter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/metrics"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// Defaults of Config.
const (
	// DefaultBatch is the most records written in one transaction.
	DefaultBatch = 1000
	// DefaultLinger is how long a batch waits for more records after its
	// first one, so that light traffic is written at once and heavy
	// traffic in full batches.
	DefaultLinger = 20 * time.Millisecond
	// DefaultRetryDelay is the first delay after a failed write; it
	// doubles up to DefaultMaxRetryDelay while the store keeps failing.
	DefaultRetryDelay = 500 * time.Millisecond
	// DefaultMaxRetryDelay bounds the delay between writes that fail.
	DefaultMaxRetryDelay = 10 * time.Second
	// DefaultWriteTimeout bounds one batch's transaction.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultDiscoverEvery is how often the writer lists the attempt
	// streams again to pull from those made after it started (a change of
	// the partition count under way).
	DefaultDiscoverEvery = 5 * time.Second
)

// ErrInvalidConfig wraps every Config validation error.
var ErrInvalidConfig = errors.New("logwriter: invalid config")

// Config is the writer's configuration.
type Config struct {
	// Streams names the attempt streams and the writers' consumer. Its
	// partition count does not limit what is drained: every attempt stream
	// that exists is.
	Streams streams.Config
	// Batch is the most records per transaction. Defaults to DefaultBatch.
	Batch int
	// Linger: see DefaultLinger.
	Linger time.Duration
	// RetryDelay and MaxRetryDelay: see DefaultRetryDelay.
	RetryDelay, MaxRetryDelay time.Duration
	// WriteTimeout: see DefaultWriteTimeout.
	WriteTimeout time.Duration
	// DiscoverEvery is how often the attempt streams are listed again.
	// Defaults to DefaultDiscoverEvery.
	DiscoverEvery time.Duration
	// Logger receives the writer's log lines. Defaults to a no-op logger.
	Logger *zerolog.Logger
	// Metrics records the writer's series; nil records nothing.
	Metrics *metrics.LogWriter
	// Now is the clock of the lag measurements. Defaults to time.Now.
	Now func() time.Time
	// Observe, when set, receives the ingest lag of every record of every
	// committed batch (from its arrival on the stream to the commit), in
	// batch order; the benchmark's lag percentiles come from it.
	Observe func(lag time.Duration)
}

func (c Config) withDefaults() Config {
	c.Streams = c.Streams.WithDefaults()
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.Linger == 0 {
		c.Linger = DefaultLinger
	}
	if c.RetryDelay == 0 {
		c.RetryDelay = DefaultRetryDelay
	}
	if c.MaxRetryDelay == 0 {
		c.MaxRetryDelay = DefaultMaxRetryDelay
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.DiscoverEvery == 0 {
		c.DiscoverEvery = DefaultDiscoverEvery
	}
	if c.Logger == nil {
		nop := zerolog.Nop()
		c.Logger = &nop
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Batch < 1 || c.Batch > 10000:
		return fmt.Errorf("%w: Batch = %d, want 1..10000", ErrInvalidConfig, c.Batch)
	case c.Linger < 0 || c.RetryDelay <= 0 || c.MaxRetryDelay < c.RetryDelay || c.WriteTimeout <= 0:
		return fmt.Errorf("%w: Linger, RetryDelay, MaxRetryDelay and WriteTimeout must be positive, MaxRetryDelay >= RetryDelay", ErrInvalidConfig)
	case c.DiscoverEvery <= 0:
		return fmt.Errorf("%w: DiscoverEvery = %v, want > 0", ErrInvalidConfig, c.DiscoverEvery)
	}
	return c.Streams.Validate()
}

// Writer drains every attempt stream into a store.
type Writer struct {
	cfg     Config
	js      jetstream.JetStream
	store   logstore.Store
	log     zerolog.Logger
	sources []source // bound by New, WEBHOOKS_ATTEMPTS's first; Run starts a pump on each

	mu     sync.Mutex
	status Status
	// pending holds, for every attempt stream a pump runs on, the last
	// NumPending seen on it; Status.Pending is their sum.
	pending map[string]uint64
	failing time.Duration // the current retry delay; 0 while writes succeed
}

// Status is what /readyz reports.
type Status struct {
	// Consuming is true while the writer pulls from its consumer on
	// WEBHOOKS_ATTEMPTS (the pumps of the attempt partitions run beside it).
	Consuming bool
	// LastError is the last failed write's error; nil after a success.
	LastError error
	// LagSeconds is the age of the newest record of the last committed
	// batch when it was committed (stream time to commit).
	LagSeconds float64
	// Pending is how many records were waiting behind that batch, summed
	// over the attempt streams pulled from: the last NumPending seen on
	// each (on failure, plus the batch's records).
	Pending uint64
	// Written counts the records committed by this process.
	Written uint64
}

// New binds a writer to the log writers' durable consumer on every
// attempt stream that exists (streams.AttemptStreams). The one on
// WEBHOOKS_ATTEMPTS must exist (see streams.Ensure); on an attempt
// partition without it (a stream left from another partition count, or
// made without it) New creates it, and skips a partition removed since it
// was listed. Any other error of binding a stream is returned.
func New(ctx context.Context, js jetstream.JetStream, store logstore.Store, cfg Config) (*Writer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, fmt.Errorf("%w: nil store", ErrInvalidConfig)
	}
	w := &Writer{cfg: cfg, js: js, store: store, log: *cfg.Logger, pending: map[string]uint64{}}
	cons, err := js.Consumer(ctx, cfg.Streams.AttemptsStream, cfg.Streams.LogConsumer)
	if err != nil {
		return nil, fmt.Errorf("logwriter: bind consumer %s on %s: %w", cfg.Streams.LogConsumer, cfg.Streams.AttemptsStream, err)
	}
	w.sources = []source{{part: streams.Partition{Stream: cfg.Streams.AttemptsStream}, consumer: cons}}
	parts, err := streams.AttemptStreams(ctx, js, cfg.Streams)
	if err != nil {
		return nil, fmt.Errorf("logwriter: %w", err)
	}
	for _, p := range parts {
		if p.Of == 0 {
			continue // WEBHOOKS_ATTEMPTS, bound above
		}
		src, err := w.bind(ctx, p)
		if err != nil {
			if isGone(err) {
				continue
			}
			return nil, err
		}
		w.sources = append(w.sources, src)
	}
	return w, nil
}

// Status returns the writer's current status.
func (w *Writer) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

// Ready returns nil while the writer consumes and its last write
// succeeded, else why not, with the lag.
func (w *Writer) Ready() error {
	s := w.Status()
	switch {
	case !s.Consuming:
		return errors.New("log writer not consuming")
	case s.LastError != nil:
		return fmt.Errorf("log store write failing (%d records waiting, lag %.1fs): %w", s.Pending, s.LagSeconds, s.LastError)
	}
	return nil
}
