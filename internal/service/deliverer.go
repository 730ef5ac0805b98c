// Package service assembles the long-running processes from their parts:
// it turns settings read by a command into a running deliverer (and the
// pieces it needs: streams, the secrets cache, the guarded HTTP client), so
// that cmd/deliverer and the local quickstart run the same code.
package service

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/deliver"
	"github.com/sixtyfour-oss/webhooks/internal/metrics"
	"github.com/sixtyfour-oss/webhooks/internal/natsconn"
	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// DelivererSettings are the deliverer's environment variables.
type DelivererSettings struct {
	config.Common

	// Concurrency is the most attempts in flight in this process.
	Concurrency int `envconfig:"DELIVERER_CONCURRENCY" default:"512"`
	// Prefetch is the client-side message buffer.
	Prefetch int `envconfig:"DELIVERER_PREFETCH" default:"256"`
	// PerHostConcurrency bounds attempts in flight to one host.
	PerHostConcurrency int `envconfig:"DELIVERER_PER_HOST_CONCURRENCY" default:"64"`
	// ShutdownTimeout bounds how long in-flight attempts may finish after SIGTERM.
	ShutdownTimeout time.Duration `envconfig:"DELIVERER_SHUTDOWN_TIMEOUT" default:"30s"`
	// RetrySchedule is the delays between attempts.
	RetrySchedule string `envconfig:"RETRY_SCHEDULE" default:"1s,2s,4s,8s,16s"`
	// OpsAddr serves /metrics, /healthz and /readyz; empty disables it.
	OpsAddr string `envconfig:"DELIVERER_OPS_ADDR" default:"127.0.0.1:9090"`
	// RetryJitter scales each delay by a random factor in [1-j, 1+j]; 0 is off.
	RetryJitter float64 `envconfig:"RETRY_JITTER" default:"0"`
}

// Policy parses the retry settings.
func (s DelivererSettings) Policy() (retry.Policy, error) {
	schedule, err := retry.ParseSchedule(s.RetrySchedule)
	if err != nil {
		return retry.Policy{}, fmt.Errorf("configuration: RETRY_SCHEDULE: %w", err)
	}
	p := retry.Policy{Schedule: schedule, Jitter: s.RetryJitter}
	if s.RetryJitter != 0 {
		p.Rand = rand.Float64
	}
	if err := p.Validate(); err != nil {
		return retry.Policy{}, fmt.Errorf("configuration: RETRY_JITTER: %w", err)
	}
	return p, nil
}

// RunDeliverer ensures the streams, starts the secrets cache and runs a
// deliverer on conn until ctx is cancelled, then shuts it down gracefully.
func RunDeliverer(ctx context.Context, s DelivererSettings, conn *natsconn.Conn, log zerolog.Logger) error {
	policy, err := s.Policy()
	if err != nil {
		return err
	}
	destinations, urls, err := s.Destinations()
	if err == nil {
		s.WarnUnsafe(log, destinations)
	}
	if err != nil {
		return err
	}
	keyring, err := s.Keyring(log)
	if err != nil {
		return err
	}
	res, err := streams.Ensure(ctx, conn.JS, s.Streams())
	if err != nil {
		return err
	}
	cache, err := secrets.NewCache(ctx, res.Secrets, keyring, time.Now)
	if err != nil {
		return fmt.Errorf("start signing-secret cache: %w", err)
	}
	defer cache.Stop()
	client := egress.NewClient(destinations, egress.ClientConfig{MaxIdleConnsPerHost: s.PerHostConcurrency})
	defer client.CloseIdleConnections()
	var links deliver.Links
	if signer, ok, err := s.DownloadSigner(); err != nil {
		return err
	} else if ok {
		links = deliver.Links{Store: res.Results, Signer: signer}
	}
	reg := NewRegistry()
	reg.MustRegister(metrics.NewStreamCollector(conn.JS, s.Streams()))
	d, err := deliver.New(ctx, conn.JS, client, cache, deliver.Config{
		Streams: s.Streams(), Policy: policy, URLs: urls,
		Concurrency: s.Concurrency, Prefetch: s.Prefetch, PerHostConcurrency: s.PerHostConcurrency,
		ShutdownTimeout: s.ShutdownTimeout, Logger: &log, Metrics: metrics.NewDeliverer(reg), Links: links,
	})
	if err != nil {
		return err
	}
	checks := []Check{
		natsConnected(conn),
		func() error { return boolCheck(cache.Ready(), "signing-secret cache not in sync") },
		func() error { return boolCheck(d.Ready(), "not consuming") },
	}
	opsCtx, stopOps := context.WithCancel(context.WithoutCancel(ctx))
	defer stopOps()
	if err := ServeOps(opsCtx, s.OpsAddr, OpsHandler(reg, checks, nil, nil), log); err != nil {
		return fmt.Errorf("DELIVERER_OPS_ADDR: %w", err)
	}
	return d.Run(ctx)
}

// natsConnected checks the NATS connection.
func natsConnected(conn *natsconn.Conn) Check {
	return func() error {
		if !conn.NC.IsConnected() {
			return errors.New("not connected to NATS (" + conn.NC.Status().String() + ")")
		}
		return nil
	}
}

func boolCheck(ok bool, why string) error {
	if ok {
		return nil
	}
	return errors.New(why)
}

// EnsureStreams creates or updates the pipeline's streams for s.
func EnsureStreams(ctx context.Context, s config.Common, conn *natsconn.Conn) (*streams.Resources, error) {
	return streams.Ensure(ctx, conn.JS, s.Streams())
}
