package deliver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/metrics"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
)

// SecretSource returns the secrets to sign an organization's delivery with
// at time now, newest first: nil for an organization without a secret
// (deliver unsigned), or an error when the organization has a secret that
// cannot be used (fail closed: send nothing). *secrets.Cache implements it.
type SecretSource interface {
	Signing(orgID string, now time.Time) ([]string, error)
}

// Deliverer consumes the deliverers' consumer of WEBHOOKS and of every
// partition stream, and delivers each event.
type Deliverer struct {
	cfg         Config
	js          jetstream.JetStream
	undelivered jetstream.Stream
	client      *http.Client
	secrets     SecretSource
	hosts       *hostLimiter
	orgs        *hostLimiter // per organization, when OrgConcurrency caps it; nil otherwise
	rates       *orgRates    // per organization, when OrgRate paces it; nil otherwise
	breaker     *breaker
	recorder    *recorder
	log         zerolog.Logger

	metrics *metrics.Deliverer

	sourcesMu sync.Mutex
	sources   []*source // the consumers pulled from; the unpartitioned stream's first
	running   atomic.Bool

	slots chan struct{} // worker slots: attempts in flight
	// moving bounds the moves to the overflow stream in flight; moving is
	// off until movePausedUntil (unix nanoseconds) after a move failed.
	moving          chan struct{}
	movePausedUntil atomic.Int64
	// The waiting room (see room.go): the messages in it, and the sources
	// with messages in it.
	room, holders atomic.Int64
	// roomFreed wakes one pull loop paused on the room, in the order they
	// paused, so that sources take turns at the room too.
	roomFreed chan struct{}
	inflight  sync.WaitGroup

	// Worker goroutines outlive their message and take the next one: a
	// fresh goroutine per message would grow its stack anew each time.
	handoff chan pulled   // to an idle worker; unbuffered
	quit    chan struct{} // closed when Run returns: idle workers exit
	workers sync.WaitGroup
}

// done ends one message's time in flight: its worker slot is free again.
// A message handed to the recorder stays in flight until its action ran, so
// that Concurrency bounds the delivered messages not yet acked too.
func (d *Deliverer) done() {
	<-d.slots
	d.metrics.InFlight(-1)
	d.inflight.Done()
}

// workerIdle is how long a worker without a message waits for the next
// one before it exits.
const workerIdle = 10 * time.Second

// New binds a deliverer to the durable consumer, which must exist (see
// streams.Ensure). client must refuse unsafe destinations and never follow
// redirects (egress.NewClient); secrets may be nil, meaning no organization
// has a secret.
func New(ctx context.Context, js jetstream.JetStream, client *http.Client, secrets SecretSource, cfg Config) (*Deliverer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if client == nil {
		return nil, fmt.Errorf("%w: nil HTTP client", ErrInvalidConfig)
	}
	if _, err := js.Stream(ctx, cfg.Streams.AttemptsStream); err != nil {
		return nil, fmt.Errorf("deliver: open stream %s: %w", cfg.Streams.AttemptsStream, err)
	}
	undelivered, err := js.Stream(ctx, cfg.Streams.UndeliveredStream)
	if err != nil {
		return nil, fmt.Errorf("deliver: open stream %s: %w", cfg.Streams.UndeliveredStream, err)
	}
	if secrets == nil {
		secrets = noSecrets{}
	}
	d := &Deliverer{
		cfg: cfg, js: js, undelivered: undelivered, client: client, secrets: secrets,
		hosts: newHostLimiter(cfg.PerHostConcurrency), log: *cfg.Logger, metrics: cfg.Metrics,
		slots: make(chan struct{}, cfg.Concurrency), roomFreed: make(chan struct{}), moving: make(chan struct{}, maxMoving),
		handoff: make(chan pulled), quit: make(chan struct{}),
	}
	if d.sources, err = d.bindSources(ctx); err != nil {
		return nil, err
	}
	if d.recorder, err = newRecorder(d, js.Conn(), cfg.Concurrency); err != nil {
		return nil, err
	}
	if cfg.OrgConcurrency > 0 {
		d.orgs = newHostLimiter(cfg.OrgConcurrency)
	}
	if cfg.OrgRate > 0 {
		d.rates = newOrgRates(cfg.OrgRate, cfg.OrgBurst)
	}
	if cfg.BreakerThreshold > 0 {
		d.breaker = newBreaker(cfg.BreakerThreshold, cfg.BreakerOpenFor, cfg.BreakerMaxOpenFor, cfg.Now, d.circuitChanged)
	}
	return d, nil
}

// circuitChanged logs and counts a circuit breaker transition.
func (d *Deliverer) circuitChanged(host, from, to string, failures, open int) {
	d.metrics.Circuit(to, open)
	e := d.log.Warn()
	if to == circuitClosed {
		e = d.log.Info()
	}
	e.Str("host", host).Str("from", from).Str("to", to).Int("consecutive_failures", failures).
		Int("circuits_open", open).Msg("circuit breaker")
}

type noSecrets struct{}

func (noSecrets) Signing(string, time.Time) ([]string, error) { return nil, nil }

// Run pulls and delivers until ctx is cancelled. Then it stops pulling,
// lets attempts in flight finish for up to ShutdownTimeout, and returns;
// messages not finished are redelivered by the server after AckWait. It
// returns nil after a clean shutdown.
func (d *Deliverer) Run(ctx context.Context) error {
	// Attempts run on their own context so that they can finish after ctx
	// ends; it is cancelled when the shutdown deadline passes.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var labels []string
	for _, s := range d.sources {
		if !slices.Contains(labels, s.part.Stream) { // a partition's lanes share its stream
			labels = append(labels, s.part.Stream)
		}
	}
	d.log.Info().Int("concurrency", d.cfg.Concurrency).Int("prefetch", d.cfg.Prefetch).
		Int("per_host", d.cfg.PerHostConcurrency).Int("per_org", d.cfg.OrgConcurrency).Float64("org_rate", d.cfg.OrgRate).Int("org_burst", d.cfg.OrgBurst).Str("consumer", d.cfg.Streams.Consumer).
		Strs("streams", labels).Int("partitions", d.cfg.Streams.Partitions).Msg("deliverer started")

	go d.watchdog(ctx)
	go d.watchBacklogs(ctx)
	if d.cfg.Links.Store != nil && d.cfg.Links.Signer != nil {
		go d.runWaiter(ctx)
	}
	go d.recorder.run(work)
	var pulls sync.WaitGroup
	start := func(src *source) {
		d.sourcesMu.Lock()
		if !slices.Contains(d.sources, src) {
			d.sources = append(d.sources, src)
		}
		d.sourcesMu.Unlock()
		pulls.Go(func() { d.pull(ctx, work, src) })
	}
	for _, src := range d.activeSources() {
		start(src)
	}
	d.running.Store(true)
	pulls.Go(func() { d.discover(ctx, start) })
	pulls.Wait()
	d.running.Store(false)

	done := make(chan struct{})
	go func() {
		d.inflight.Wait() // attempts, and finished messages until the recorder acts on them
		d.recorder.close()
		<-d.recorder.out
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d.cfg.ShutdownTimeout):
		d.log.Warn().Dur("timeout", d.cfg.ShutdownTimeout).Msg("shutdown deadline passed: cancelling attempts in flight; they will be redelivered")
		cancelWork()
		<-done
	}
	close(d.quit)
	d.workers.Wait()
	d.log.Info().Msg("deliverer stopped")
	return nil
}

// pull is the service loop of one source: it takes the next message, then
// a worker slot, and hands the message to a goroutine. It only schedules.
// The sources take turns at the slots (waiting senders on a channel are
// served in order), so a partition with a backlog takes its share of the
// workers and no more while the others have messages too. It returns when
// ctx ends, or when src's stream was removed after a change of the
// partition count.
func (d *Deliverer) pull(ctx, work context.Context, src *source) {
	log := d.log.With().Str("stream", src.part.Stream).Logger()
	for ctx.Err() == nil {
		it, err := src.messages(jetstream.PullMaxMessages(d.sourcePrefetch(src)))
		if err != nil {
			if d.givenUp(src, err, log) {
				return
			}
			log.Error().Err(err).Msg("cannot start pulling; retrying in 1s")
			if !retry.Pause(ctx, time.Second) {
				return
			}
			continue
		}
		src.lastMsg.Store(time.Now().UnixNano())
		src.current.Store(&it)
		src.pulling.Store(true)
		err = d.drain(ctx, work, src, it)
		src.pulling.Store(false)
		src.current.Store(nil)
		it.Stop()
		if err != nil && d.givenUp(src, err, log) {
			return
		}
	}
}

// drain delivers messages from one iterator until ctx ends or the iterator
// fails (its error is returned); the caller then makes a new one.
func (d *Deliverer) drain(ctx, work context.Context, src *source, it jetstream.MessagesContext) error {
	for {
		// Back-pressure: no new message while this source holds its share
		// of the waiting room, or the room is full and it has messages in
		// it (see room.go). A source whose backlog is being moved pulls on
		// regardless: a moved message never enters the room, and one that
		// is not moved waits here for the room, in hand, before a worker
		// takes it.
		moving := src.movers.Load() != nil
		if !moving && !d.awaitRoom(ctx, src) {
			return nil
		}
		msg, err := d.next(ctx, it)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) && src.resizing.Swap(false) {
				return nil // drained to be made again with another buffer (see resizePull)
			}
			d.log.Warn().Err(err).Str("stream", src.part.Stream).Msg("pull interrupted; re-creating the pull")
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || errors.Is(err, jetstream.ErrConsumerDeleted) {
				retry.Pause(ctx, 100*time.Millisecond)
			}
			return err
		}
		src.lastMsg.Store(time.Now().UnixNano())
		src.pulled.Inc()
		if d.cfg.OverflowThreshold >= 0 { // the backlog checks read it
			if meta, err := msg.Metadata(); err == nil {
				src.pending.Store(meta.NumPending)
			}
		}
		if to, ok := d.moveTarget(src, msg); ok {
			if !d.move(ctx, work, pulled{msg: msg, src: src}, to) {
				return nil
			}
			continue
		}
		if moving && !d.awaitRoom(ctx, src) {
			return nil
		}
		// A message taken while every worker is busy waits here; at
		// shutdown it is left unacknowledged, as the prefetched ones are,
		// and redelivered after AckWait.
		select {
		case d.slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		d.inflight.Add(1)
		d.metrics.InFlight(1)
		p := pulled{msg: msg, src: src}
		select {
		case d.handoff <- p: // an idle worker takes it
		default:
			d.workers.Add(1)
			go d.worker(work, p)
		}
	}
}

// pulled is a message and the source it was pulled from.
type pulled struct {
	msg jetstream.Msg
	src *source
}

// worker handles p, then every message handed off to it, until it has
// been idle for workerIdle or Run returns.
func (d *Deliverer) worker(work context.Context, p pulled) {
	defer d.workers.Done()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		if !d.handle(work, p.msg, p.src) {
			d.done()
		}
		idle.Reset(workerIdle)
		select {
		case p = <-d.handoff:
		case <-idle.C:
			return
		case <-d.quit:
			return
		}
	}
}

// nextPoll bounds one wait in next.
const nextPoll = time.Second

// next returns the pull's next message, waiting at most nextPoll at a time:
// each call of Next lets the client check whether it must ask the server
// for more. nats.go v1.55 can skip that check when a batch arrives while
// its previous pull request is still being sent, and then waits forever
// (until the pull expires, 30 s) with messages pending: seen here as a
// stall after exactly one initial batch plus a few refills.
func (d *Deliverer) next(ctx context.Context, it jetstream.MessagesContext) (jetstream.Msg, error) {
	for {
		wait, cancel := context.WithTimeout(ctx, nextPoll)
		msg, err := it.Next(jetstream.NextContext(wait))
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return msg, err
		}
	}
}

// watchdog re-creates the pull when it makes no progress: messages are
// pending on the consumer and workers are free, yet nothing arrived for
// StallTimeout. Pulls have been seen to go silent at high concurrency
// (and after reconnects) without reporting an error.
func (d *Deliverer) watchdog(ctx context.Context) {
	retry.Every(ctx, d.cfg.StallTimeout/4, func() {
		for _, src := range d.activeSources() {
			d.checkStalled(ctx, src)
		}
	})
}

// checkStalled re-creates src's pull when it is stalled.
func (d *Deliverer) checkStalled(ctx context.Context, src *source) {
	idle := time.Since(time.Unix(0, src.lastMsg.Load()))
	if !src.pulling.Load() || idle < d.cfg.StallTimeout || len(d.slots) == cap(d.slots) {
		return
	}
	ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
	info, err := src.consumer.Info(ictx)
	cancel()
	if err != nil || info.NumPending == 0 {
		return
	}
	if it := src.current.Load(); it != nil {
		d.log.Warn().Str("stream", src.part.Stream).Dur("idle", idle).Uint64("pending", info.NumPending).Int("busy_workers", len(d.slots)).
			Msg("watchdog: no messages pulled while some are pending and workers are free; re-creating the pull")
		d.metrics.PullRestart()
		src.lastMsg.Store(time.Now().UnixNano())
		(*it).Stop()
	}
}

// Ready reports whether the deliverer is pulling from every consumer it
// binds: false before Run starts, while a pull is being re-created, and
// after shutdown began.
func (d *Deliverer) Ready() bool {
	if !d.running.Load() {
		return false
	}
	for _, src := range d.activeSources() {
		if !src.pulling.Load() {
			return false
		}
	}
	return true
}
