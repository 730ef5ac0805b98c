// Package service assembles the long-running processes from their parts:
// it turns settings read by a command into a running deliverer (and the
// pieces it needs: streams, the secrets cache, the guarded HTTP client), so
// that cmd/deliverer and the local quickstart run the same code.
package service

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
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
	// OrgConcurrency caps one organization's attempts in flight in this
	// process; 0 is no cap (organizations take turns, see deliver.Config).
	OrgConcurrency int `envconfig:"DELIVERER_ORG_CONCURRENCY" default:"0"`
	// OrgRate paces one organization's attempts in this process to this
	// many a second; 0 is no pace (see deliver.Config).
	OrgRate float64 `envconfig:"DELIVERER_ORG_RATE" default:"0"`
	// OrgBurst is the burst of OrgRate; 0 is one second's worth.
	OrgBurst int `envconfig:"DELIVERER_ORG_BURST" default:"0"`
	// OverflowThreshold is how many messages one organization must have
	// pending in a lane, while others have messages there too, for its new
	// messages to be moved to the overflow stream; 0 turns moving off.
	OverflowThreshold int `envconfig:"DELIVERER_OVERFLOW_THRESHOLD" default:"1000"`
	// ShutdownTimeout bounds how long in-flight attempts may finish after SIGTERM.
	ShutdownTimeout time.Duration `envconfig:"DELIVERER_SHUTDOWN_TIMEOUT" default:"30s"`
	// RetrySchedule is the delays between attempts.
	RetrySchedule string `envconfig:"RETRY_SCHEDULE" default:"1s,2s,4s,8s,16s"`
	// OpsAddr serves /metrics, /healthz and /readyz; empty disables it.
	OpsAddr string `envconfig:"DELIVERER_OPS_ADDR" default:"127.0.0.1:9090"`
	// RetryJitter scales each delay by a random factor in [1-j, 1+j]; 0 is off.
	RetryJitter float64 `envconfig:"RETRY_JITTER" default:"0"`
	// RetryAfterCap is the longest wait a receiver's Retry-After header (on
	// a 429 or 503) may impose on the next attempt.
	RetryAfterCap time.Duration `envconfig:"RETRY_AFTER_CAP" default:"60s"`
	// OnlyPartitions restricts this process to some partitions of
	// STREAMS_PARTITIONS, a comma-separated list of indexes; empty is all.
	OnlyPartitions string `envconfig:"DELIVERER_PARTITIONS"`
}

// Partitions parses DELIVERER_PARTITIONS: nil for all partitions.
func (s DelivererSettings) Partitions() ([]int, error) {
	if strings.TrimSpace(s.OnlyPartitions) == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s.OnlyPartitions, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || k < 0 || k >= s.Common.Partitions {
			return nil, config.Bad("DELIVERER_PARTITIONS", "got %q, want comma-separated partition indexes 0..%d (STREAMS_PARTITIONS=%d), or empty for all", s.OnlyPartitions, s.Common.Partitions-1, s.Common.Partitions)
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// Validate checks every deliverer setting (the common ones, a master key
// that is set, the retry policy, the limits, the ops address) and returns
// every problem at once, each naming its variable. Whether a master key is
// required is the caller's to check (config.Common.RequireMasterKey): the
// quickstart supplies the development key itself.
func (s DelivererSettings) Validate() error {
	_, policyErr := s.Policy()
	_, partErr := s.Partitions()
	return config.Check(
		s.Common.Validate(),
		partErr,
		s.ValidateMasterKey(),
		policyErr,
		atLeast1("DELIVERER_CONCURRENCY", s.Concurrency),
		atLeast1("DELIVERER_PREFETCH", s.Prefetch),
		atLeast1("DELIVERER_PER_HOST_CONCURRENCY", s.PerHostConcurrency),
		notNegative("DELIVERER_ORG_CONCURRENCY", s.OrgConcurrency),
		orgRate(s.OrgRate, s.OrgBurst),
		notNegative("DELIVERER_OVERFLOW_THRESHOLD", s.OverflowThreshold),
		positive("DELIVERER_SHUTDOWN_TIMEOUT", s.ShutdownTimeout),
		config.CheckAddr("DELIVERER_OPS_ADDR", s.OpsAddr, true),
	)
}

// orgRate checks DELIVERER_ORG_RATE and DELIVERER_ORG_BURST: a finite
// rate >= 0, and a burst >= 0 that is only given with a rate.
func orgRate(perSecond float64, burst int) error {
	var rateErr, burstErr error
	if perSecond < 0 || math.IsNaN(perSecond) || math.IsInf(perSecond, 0) {
		rateErr = config.Bad("DELIVERER_ORG_RATE", "got %v, want a number of attempts a second >= 0 (0: no pace)", perSecond)
	}
	switch {
	case burst < 0:
		burstErr = config.Bad("DELIVERER_ORG_BURST", "got %d, want >= 0 (0: one second of DELIVERER_ORG_RATE)", burst)
	case burst > 0 && perSecond == 0:
		burstErr = config.Bad("DELIVERER_ORG_BURST", "set to %d without DELIVERER_ORG_RATE: a burst needs a rate", burst)
	}
	return errors.Join(rateErr, burstErr)
}

// notNegative checks a count setting where 0 means "off".
func notNegative(name string, n int) error {
	if n < 0 {
		return config.Bad(name, "got %d, want >= 0 (0: no cap)", n)
	}
	return nil
}

// atLeast1 checks a count setting.
func atLeast1(name string, n int) error {
	if n < 1 {
		return config.Bad(name, "got %d, want >= 1", n)
	}
	return nil
}

// positive checks a duration setting.
func positive(name string, d time.Duration) error {
	if d <= 0 {
		return config.Bad(name, "got %v, want > 0", d)
	}
	return nil
}

// Policy parses the retry settings; its error lists a *config.SettingError
// for each bad one.
func (s DelivererSettings) Policy() (retry.Policy, error) {
	schedule, schedErr := retry.ParseSchedule(s.RetrySchedule)
	if schedErr != nil {
		schedErr = config.Bad("RETRY_SCHEDULE", "%w", schedErr)
	}
	var capErr error
	if s.RetryAfterCap <= 0 || s.RetryAfterCap > retry.MaxDelay {
		capErr = config.Bad("RETRY_AFTER_CAP", "got %v, want > 0 and at most %v", s.RetryAfterCap, retry.MaxDelay)
	}
	if err := config.Check(schedErr, capErr); err != nil {
		return retry.Policy{}, err
	}
	p := retry.Policy{Schedule: schedule, Jitter: s.RetryJitter, RetryAfterCap: s.RetryAfterCap}
	if s.RetryJitter != 0 {
		p.Rand = rand.Float64
	}
	if err := p.Validate(); err != nil {
		return retry.Policy{}, config.Bad("RETRY_JITTER", "%w", err)
	}
	return p, nil
}

// RunDeliverer runs a deliverer as RunDelivererOn does, its ops endpoint
// listening on s.OpsAddr (bound here, after connecting: a process that
// wants a clash to stop it before it starts binds first with Listen).
func RunDeliverer(ctx context.Context, s DelivererSettings, conn *natsconn.Conn, log zerolog.Logger) error {
	lns, err := Listen(Address{Setting: "DELIVERER_OPS_ADDR", Addr: s.OpsAddr, Optional: true})
	if err != nil {
		return err
	}
	return RunDelivererOn(ctx, s, s.Streams(), conn, lns[0], log)
}

// RunDelivererOn ensures the streams sc (s.Streams(), or the same with
// other consumer names, as the quickstart's), starts the secrets cache and
// runs a deliverer on conn until ctx is cancelled, then shuts it down
// gracefully.
// It serves the ops endpoints on ops (nil: none), which it closes when it
// returns. It logs no start-up warnings: the process says once which
// unsafe settings are on (config.Common.WarnUnsafe and WarnDevKey).
func RunDelivererOn(ctx context.Context, s DelivererSettings, sc streams.Config, conn *natsconn.Conn, ops net.Listener, log zerolog.Logger) error {
	if ops != nil {
		defer ops.Close()
	}
	policy, err := s.Policy()
	if err != nil {
		return err
	}
	only, err := s.Partitions()
	if err != nil {
		return err
	}
	destinations, urls, err := s.Destinations()
	if err != nil {
		return err
	}
	keyring, err := s.ParseKeyring()
	if err != nil {
		return err
	}
	res, err := streams.Ensure(ctx, conn.JS, sc)
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
	reg.MustRegister(metrics.NewStreamCollector(conn.JS, sc))
	d, err := deliver.New(ctx, conn.JS, client, cache, deliver.Config{
		Streams: sc, Policy: policy, URLs: urls,
		Concurrency: s.Concurrency, Prefetch: s.Prefetch, PerHostConcurrency: s.PerHostConcurrency,
		OrgConcurrency: s.OrgConcurrency, OrgRate: s.OrgRate, OrgBurst: s.OrgBurst, ShutdownTimeout: s.ShutdownTimeout, Logger: &log, Metrics: metrics.NewDeliverer(reg), Links: links,
		OnlyPartitions: only, OverflowThreshold: overflowThreshold(s.OverflowThreshold),
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
	ServeOpsOn(opsCtx, ops, OpsHandler(reg, checks, nil, nil), log)
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

// overflowThreshold maps DELIVERER_OVERFLOW_THRESHOLD to
// deliver.Config.OverflowThreshold, whose "off" is negative.
func overflowThreshold(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
