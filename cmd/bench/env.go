package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/embedded"
	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// benchOrg is the organization of every event; it has a signing secret.
const benchOrg = "org_bench"

// publishWindow bounds the asynchronous publishes awaiting their ack.
const publishWindow = 4096

// envConfig is what differs between the phases' worlds.
type envConfig struct {
	fsync         bool // the server fsyncs every write (SyncAlways)
	maxAckPending int  // consumer MaxAckPending; 0 is the streams default
	blackhole     bool // also start a destination that never answers
	partitions    int  // deliver partitions (the server gets their mapping); 0 is 1
}

// env is one phase's world, built by newEnv and nowhere else: a fresh
// JetStream server in a temporary directory with the pipeline's streams,
// consumer and secrets bucket (streams.Ensure), benchOrg with a signing
// secret made by secrets.Manager, the sink, and optionally a black hole.
type env struct {
	dir    string
	keep   bool
	srv    *server.Server
	nc     *nats.Conn
	js     jetstream.JetStream
	sc     streams.Config
	res    *streams.Resources
	secret string
	sink   *sink
	hole   *blackhole

	pubErrors atomic.Int64
}

func newEnv(ctx context.Context, o options, ec envConfig) (_ *env, err error) {
	e := &env{keep: o.keep}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if e.dir, err = os.MkdirTemp("", "webhooks-bench-"); err != nil {
		return nil, err
	}
	e.sc = streams.Config{MaxAckPending: ec.maxAckPending, Partitions: ec.partitions}.WithDefaults()
	e.srv, err = embedded.Start(embedded.Config{Port: -1, StoreDir: filepath.Join(e.dir, "js"), SyncAlways: ec.fsync, Mappings: e.sc.Mappings()})
	if err != nil {
		return nil, err
	}
	if e.nc, err = nats.Connect(e.srv.ClientURL(), nats.Name("bench")); err != nil {
		return nil, err
	}
	e.js, err = jetstream.New(e.nc, jetstream.WithPublishAsyncMaxPending(publishWindow),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { e.pubErrors.Add(1) }))
	if err != nil {
		return nil, err
	}
	if e.res, err = streams.Ensure(ctx, e.js, e.sc); err != nil {
		return nil, err
	}
	mgr := &secrets.Manager{KV: e.res.Secrets, Keyring: secrets.DevKeyring()}
	if e.secret, _, err = mgr.Create(ctx, benchOrg); err != nil {
		return nil, fmt.Errorf("create the signing secret: %w", err)
	}
	if e.sink, err = newSink(e.secret); err != nil {
		return nil, err
	}
	if ec.blackhole {
		if e.hole, err = newBlackhole(); err != nil {
			return nil, fmt.Errorf("black hole on 127.0.0.2: %w", err)
		}
	}
	return e, nil
}

// close tears the world down; it is safe on a partly built env.
func (e *env) close() {
	if e.hole != nil {
		e.hole.close()
	}
	if e.sink != nil {
		e.sink.close()
	}
	if e.nc != nil {
		e.nc.Close()
	}
	if e.srv != nil {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
	}
	if e.dir != "" && !e.keep {
		_ = os.RemoveAll(e.dir)
	}
}

// childShutdownTimeout is the deliverer's ShutdownTimeout in the bench:
// short, so that a child with attempts stuck on the black hole stops
// quickly. Drains end with nothing in flight, so it changes nothing there.
const childShutdownTimeout = 500 * time.Millisecond

// spec returns the spec of a child of mode in this world, with workers
// attempts (or worker goroutines) at once, as many per host, and a pull
// batch of prefetch.
func (e *env) spec(mode string, workers, prefetch int) childSpec {
	return childSpec{
		Mode: mode, NATSURL: e.srv.ClientURL(), Streams: e.sc, Workers: workers, PerHost: workers,
		Prefetch: prefetch, URL: e.sink.url, LogPath: filepath.Join(e.dir, mode+".log"),
		ShutdownTimeout: childShutdownTimeout,
	}
}

// delivererSpec returns the spec of the deliverer with the command's
// settings.
func (e *env) delivererSpec(o options) childSpec {
	spec := e.spec(modeDeliverer, o.concurrency, o.prefetch)
	spec.PerHost, spec.MaxWaiting = o.perHost, o.maxWaiting
	return spec
}

// checkSink reports what the sink saw beyond the count, and fails when
// fewer than want events arrived, a sampled signature did not verify, or a
// publish failed.
func (e *env) checkSink(r *report, want int64) error {
	s := e.sink
	checked := (s.total.Load() + verifyEvery - 1) / verifyEvery
	if d := s.duplicates(); d > 0 || s.badSig.Load() > 0 || e.pubErrors.Load() > 0 {
		r.printf("  sink: %d duplicate deliveries, %d of %d sampled signatures bad, %d publish errors",
			d, s.badSig.Load(), checked, e.pubErrors.Load())
	}
	switch {
	case s.received() < want:
		return fmt.Errorf("sink received %d of %d events", s.received(), want)
	case s.badSig.Load() > 0:
		return fmt.Errorf("%d of %d sampled signatures did not verify", s.badSig.Load(), checked)
	case e.pubErrors.Load() > 0:
		return fmt.Errorf("%d asynchronous publishes failed", e.pubErrors.Load())
	}
	return nil
}

// remaining returns the messages left on the deliver streams, every
// partition's included (acked messages leave a work-queue stream).
func (e *env) remaining(ctx context.Context) (int64, error) {
	info, err := e.res.Deliver.Info(ctx)
	if err != nil {
		return 0, err
	}
	n := int64(info.State.Msgs)
	for _, p := range e.res.Partitions {
		pi, err := p.Stream.Info(ctx)
		if err != nil {
			return 0, err
		}
		n += int64(pi.State.Msgs)
	}
	return n, nil
}

// consumerPeak is the largest consumer state seen by watchConsumer.
type consumerPeak struct {
	AckPending    int // largest NumAckPending
	Waiting       int // largest NumWaiting (pull requests waiting)
	Pending       int // largest NumPending (not yet delivered)
	MaxAckPending int // the consumer's limit, for comparison
	Polls         int // successful polls
	Errors        int // failed polls
}

// watchConsumer polls the consumer's info every interval until the
// returned func is called, which returns the peaks seen.
func (e *env) watchConsumer(ctx context.Context, every time.Duration) func() consumerPeak {
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan consumerPeak, 1)
	go func() {
		p := consumerPeak{MaxAckPending: e.sc.MaxAckPending}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				out <- p
				return
			case <-t.C:
			}
			lag, err := streams.DeliverLag(ctx, e.js, e.sc)
			if err != nil {
				p.Errors++
				continue
			}
			p.Polls++
			var ackPending, waiting, pending int
			for _, l := range lag {
				ackPending += l.AckPending
				waiting += l.Waiting
				pending += int(l.Pending)
			}
			p.AckPending = max(p.AckPending, ackPending)
			p.Waiting = max(p.Waiting, waiting)
			p.Pending = max(p.Pending, pending)
		}
	}()
	return func() consumerPeak { cancel(); return <-out }
}
