// Package deliver is the deliverer: it consumes delivery requests from the
// WEBHOOKS durable pull consumer, signs and POSTs each attempt, and turns
// the retry decision into exactly one JetStream action: Ack when
// delivered, NakWithDelay when a retry is due, and for exhausted or
// terminal events a publish to WEBHOOKS_UNDELIVERED (awaited) followed by
// Term. It publishes a record of every attempt to WEBHOOKS_ATTEMPTS (one
// subject per organization and source), always before the message is
// acked, naked or termed; the records are written many at a time by a
// recorder (recorder.go), and the log writer stores them in the delivery
// log. An organization whose backlog holds other organizations up in a
// lane is moved out of their way, to WEBHOOKS_OVERFLOW (overflow.go).
//
// Any number of deliverer processes may bind to the same consumer.
package deliver

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/metrics"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// Defaults for Config.
const (
	// DefaultConcurrency is how many deliveries one process works on at once.
	DefaultConcurrency = 512
	// DefaultPrefetch is how many messages the client buffers ahead of the
	// workers. Buffered messages count against AckWait, so it stays small.
	DefaultPrefetch = 256
	// DefaultPerHostConcurrency bounds simultaneous attempts to one
	// destination host, so one slow host cannot hold every worker.
	DefaultPerHostConcurrency = 64
	// DefaultMaxWaiting is how many messages may wait for a busy host
	// without holding a worker slot; at that many, pulling pauses.
	DefaultMaxWaiting = 1024
	// DefaultBreakerThreshold is how many consecutive timeouts, connection
	// and TLS errors open a host's circuit. It is above the six attempts of
	// one event, so one failing event alone never trips it.
	DefaultBreakerThreshold = 10
	// DefaultBreakerOpenFor is how long a circuit stays open before one
	// probe attempt is let through; it doubles while probes fail.
	DefaultBreakerOpenFor = 5 * time.Second
	// DefaultBreakerMaxOpenFor caps the open period.
	DefaultBreakerMaxOpenFor = time.Minute
	// DefaultStallTimeout is how long the pull may deliver nothing while the
	// consumer has messages pending and workers are free before the
	// watchdog re-creates it.
	DefaultStallTimeout = 10 * time.Second
	// DefaultDeadLetterRetryDelay is how long a message waits before the
	// next try when writing it to the undelivered stream failed.
	DefaultDeadLetterRetryDelay = 5 * time.Second
	// DefaultOutcomeRecordBudget bounds how long writing an attempt record
	// is retried: longer than a leader election after a node crash (6-8 s
	// measured in test/cluster). The message's heartbeat keeps it from
	// being redelivered meanwhile.
	DefaultOutcomeRecordBudget = 20 * time.Second
	// DefaultShutdownTimeout bounds how long in-flight attempts may run
	// after shutdown starts; what is left is redelivered later.
	DefaultShutdownTimeout = 30 * time.Second
	// DefaultDiscoverEvery is how often a deliverer looks for new
	// partition streams.
	DefaultDiscoverEvery = 15 * time.Second
	// DefaultOverflowThreshold is how many messages of one organization
	// pending in a lane, while another organization has messages there
	// too, make the deliverer move its new ones to the overflow stream.
	DefaultOverflowThreshold = 1000
	// DefaultOverflowCheckEvery is how often a backlogged lane's messages
	// are counted by organization.
	DefaultOverflowCheckEvery = time.Second
	// DefaultBodyDrainLimit is how much of a response body is read (then
	// discarded) beyond the kept excerpt, so the connection can be reused.
	DefaultBodyDrainLimit = 64 << 10
)

// ErrInvalidConfig wraps every Config validation error.
var ErrInvalidConfig = errors.New("invalid deliverer config")

// Config configures a Deliverer. Zero fields take their defaults.
type Config struct {
	// Streams names the JetStream resources. Zero fields take the streams defaults.
	Streams streams.Config
	// Policy decides retries. Defaults to retry.NewPolicy() (1s, 2s, 4s,
	// 8s, 16s; six attempts).
	Policy retry.Policy
	// URLs decides whether plain-http destinations are accepted. Defaults to https only.
	URLs envelope.URLPolicy
	// Concurrency is the most messages in flight: attempts under way, and
	// delivered messages until their record is written and they are acked.
	// Defaults to DefaultConcurrency.
	Concurrency int
	// Prefetch is the client-side message buffer, shared by the consumers
	// pulled from (WEBHOOKS and every lane of every partition): AckWait
	// runs while a message waits there. Defaults to DefaultPrefetch.
	Prefetch int
	// PerHostConcurrency bounds attempts in flight to one host. Defaults to
	// DefaultPerHostConcurrency; values above Concurrency mean Concurrency.
	PerHostConcurrency int
	// OrgConcurrency caps the attempts in flight for one organization in
	// this process, over all its hosts: a message of an organization at
	// its cap waits in the waiting room (as one for a busy host does)
	// until one of the organization's attempts ends. 0, the default, is no
	// cap: the sources take turns at the worker slots and the
	// organizations at a shared host's slots, which is fair without
	// leaving slots idle; a cap is for when one organization must never
	// use more, even when nobody else has traffic. Values above
	// Concurrency mean Concurrency.
	OrgConcurrency int
	// OrgRate paces one organization's attempts in this process, over all
	// its hosts, to this many a second on average, with bursts of
	// OrgBurst: a message of an organization over its rate waits in the
	// waiting room until its turn. 0, the default, is no pace (as for
	// OrgConcurrency, the turns are fair without one); a pace is for an
	// organization whose receivers must never get more.
	OrgRate float64
	// OrgBurst is how many attempts an organization paced by OrgRate may
	// start at once after a quiet spell. Defaults to one second's worth
	// of OrgRate (at least 1).
	OrgBurst int
	// MaxWaiting bounds the messages waiting for a busy host's slot
	// without holding a worker slot. Defaults to DefaultMaxWaiting.
	MaxWaiting int
	// BreakerThreshold: see DefaultBreakerThreshold; a negative value
	// turns the circuit breaker off.
	BreakerThreshold int
	// BreakerOpenFor: see DefaultBreakerOpenFor.
	BreakerOpenFor time.Duration
	// BreakerMaxOpenFor: see DefaultBreakerMaxOpenFor.
	BreakerMaxOpenFor time.Duration
	// StallTimeout: see DefaultStallTimeout.
	StallTimeout time.Duration
	// HeartbeatInterval is how often a long attempt tells the server it is
	// still in progress. Defaults to a third of the consumer's AckWait.
	HeartbeatInterval time.Duration
	// DeadLetterRetryDelay: see DefaultDeadLetterRetryDelay.
	DeadLetterRetryDelay time.Duration
	// OutcomeRecordBudget: see DefaultOutcomeRecordBudget.
	OutcomeRecordBudget time.Duration
	// ShutdownTimeout: see DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// OnlyPartitions restricts the partitions of the configured count this
	// deliverer pulls from to these indexes; empty means all. The
	// unpartitioned stream, and the partitions of another count while they
	// drain, are always pulled from.
	OnlyPartitions []int
	// DiscoverEvery is how often partition streams made after start are
	// looked for (a change of the partition count). Defaults to
	// DefaultDiscoverEvery.
	DiscoverEvery time.Duration
	// OverflowThreshold is how many messages one organization must have
	// pending in a lane, while another organization has messages there
	// too, for the deliverer to move its messages to the overflow stream
	// (see overflow.go). Defaults to DefaultOverflowThreshold; a negative
	// value turns moving off (a lane is then delivered in arrival order).
	OverflowThreshold int
	// OverflowCheckEvery is how often a lane with OverflowThreshold
	// messages pending is counted by organization. Defaults to
	// DefaultOverflowCheckEvery.
	OverflowCheckEvery time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Links configures signed results_download_url and the wait for a
	// block's CSV; the zero value turns them off.
	Links Links
	// Metrics records the deliverer's series; nil records nothing.
	Metrics *metrics.Deliverer
	// Logger receives one line per attempt and lifecycle events. Defaults to
	// a disabled logger.
	Logger *zerolog.Logger
}

// withDefaults returns c with zero fields defaulted.
func (c Config) withDefaults() Config {
	c.Streams = c.Streams.WithDefaults()
	if c.Policy.Schedule == nil {
		c.Policy = retry.NewPolicy()
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Prefetch == 0 {
		c.Prefetch = min(DefaultPrefetch, c.Concurrency)
	}
	if c.PerHostConcurrency == 0 {
		c.PerHostConcurrency = DefaultPerHostConcurrency
	}
	c.PerHostConcurrency = min(c.PerHostConcurrency, c.Concurrency) // a host cannot use more than all workers
	c.OrgConcurrency = min(c.OrgConcurrency, c.Concurrency)
	if c.OrgRate > 0 && c.OrgBurst == 0 {
		c.OrgBurst = defaultOrgBurst(c.OrgRate)
	}
	if c.MaxWaiting == 0 {
		c.MaxWaiting = DefaultMaxWaiting
	}
	if c.BreakerThreshold == 0 {
		c.BreakerThreshold = DefaultBreakerThreshold
	}
	if c.BreakerOpenFor == 0 {
		c.BreakerOpenFor = DefaultBreakerOpenFor
	}
	if c.BreakerMaxOpenFor == 0 {
		c.BreakerMaxOpenFor = max(DefaultBreakerMaxOpenFor, c.BreakerOpenFor)
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.Links.Wait == 0 {
		c.Links.Wait = DefaultLinkWait
	}
	if c.Links.Poll == 0 {
		c.Links.Poll = DefaultLinkPoll
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = c.Streams.AckWait / 3
	}
	if c.DeadLetterRetryDelay == 0 {
		c.DeadLetterRetryDelay = DefaultDeadLetterRetryDelay
	}
	if c.OutcomeRecordBudget == 0 {
		c.OutcomeRecordBudget = DefaultOutcomeRecordBudget
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.DiscoverEvery == 0 {
		c.DiscoverEvery = DefaultDiscoverEvery
	}
	if c.OverflowThreshold == 0 {
		c.OverflowThreshold = DefaultOverflowThreshold
	}
	if c.OverflowCheckEvery == 0 {
		c.OverflowCheckEvery = DefaultOverflowCheckEvery
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		nop := zerolog.Nop()
		c.Logger = &nop
	}
	return c
}

// validate checks a defaulted config; errors name the field.
func (c Config) validate() error {
	if err := c.Streams.Validate(); err != nil {
		return err
	}
	if err := c.Policy.Validate(); err != nil {
		return fmt.Errorf("%w: Policy: %w", ErrInvalidConfig, err)
	}
	switch {
	case c.Concurrency < 1:
		return fmt.Errorf("%w: Concurrency = %d, want >= 1", ErrInvalidConfig, c.Concurrency)
	case c.Prefetch < 1:
		return fmt.Errorf("%w: Prefetch = %d, want >= 1", ErrInvalidConfig, c.Prefetch)
	case c.PerHostConcurrency < 1:
		return fmt.Errorf("%w: PerHostConcurrency = %d, want >= 1", ErrInvalidConfig, c.PerHostConcurrency)
	case c.OrgConcurrency < 0:
		return fmt.Errorf("%w: OrgConcurrency = %d, want >= 0 (0: no cap)", ErrInvalidConfig, c.OrgConcurrency)
	case c.OrgRate < 0 || math.IsNaN(c.OrgRate) || math.IsInf(c.OrgRate, 0):
		return fmt.Errorf("%w: OrgRate = %v, want a finite number >= 0 (0: no pace)", ErrInvalidConfig, c.OrgRate)
	case c.OrgBurst < 0:
		return fmt.Errorf("%w: OrgBurst = %d, want >= 0 (0: one second of OrgRate)", ErrInvalidConfig, c.OrgBurst)
	case c.MaxWaiting < 1:
		return fmt.Errorf("%w: MaxWaiting = %d, want >= 1", ErrInvalidConfig, c.MaxWaiting)
	case c.HeartbeatInterval <= 0 || c.HeartbeatInterval >= c.Streams.AckWait:
		return fmt.Errorf("%w: HeartbeatInterval = %v, want > 0 and < AckWait (%v)", ErrInvalidConfig, c.HeartbeatInterval, c.Streams.AckWait)
	case c.BreakerOpenFor <= 0 || c.BreakerMaxOpenFor < c.BreakerOpenFor:
		return fmt.Errorf("%w: BreakerOpenFor = %v, BreakerMaxOpenFor = %v, want 0 < open <= max", ErrInvalidConfig, c.BreakerOpenFor, c.BreakerMaxOpenFor)
	case c.StallTimeout < 100*time.Millisecond:
		return fmt.Errorf("%w: StallTimeout = %v, want >= 100ms", ErrInvalidConfig, c.StallTimeout)
	case c.DeadLetterRetryDelay <= 0:
		return fmt.Errorf("%w: DeadLetterRetryDelay = %v, want > 0", ErrInvalidConfig, c.DeadLetterRetryDelay)
	case c.OutcomeRecordBudget <= 0:
		return fmt.Errorf("%w: OutcomeRecordBudget = %v, want > 0", ErrInvalidConfig, c.OutcomeRecordBudget)
	case c.ShutdownTimeout <= 0:
		return fmt.Errorf("%w: ShutdownTimeout = %v, want > 0", ErrInvalidConfig, c.ShutdownTimeout)
	case c.OverflowCheckEvery < 10*time.Millisecond:
		return fmt.Errorf("%w: OverflowCheckEvery = %v, want >= 10ms", ErrInvalidConfig, c.OverflowCheckEvery)
	case c.DiscoverEvery < 10*time.Millisecond:
		return fmt.Errorf("%w: DiscoverEvery = %v, want >= 10ms", ErrInvalidConfig, c.DiscoverEvery)
	}
	for _, k := range c.OnlyPartitions {
		if k < 0 || k >= c.Streams.Partitions {
			return fmt.Errorf("%w: OnlyPartitions holds %d, want 0..%d (Partitions = %d)", ErrInvalidConfig, k, c.Streams.Partitions-1, c.Streams.Partitions)
		}
	}
	return nil
}
