package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/deliver"
	"github.com/sixtyfour-oss/webhooks/internal/metrics"
	"github.com/sixtyfour-oss/webhooks/internal/natsconn"
	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/internal/service"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// runDeliverer runs the quickstart's deliverer until ctx ends, as
// service.RunDeliverer assembles one, but on the quickstart's own consumers
// (sc, res: see ownStreams; service.RunDeliverer binds the default names)
// and with its ops endpoints on ops (nil: none), which it closes.
func runDeliverer(ctx context.Context, s service.DelivererSettings, sc streams.Config, res *streams.Resources,
	conn *natsconn.Conn, keyring *secrets.Keyring, ops net.Listener, log zerolog.Logger) error {
	if ops != nil {
		defer ops.Close()
	}
	policy, err := s.Policy()
	if err != nil {
		return err
	}
	destinations, urls, err := s.Destinations()
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
	reg := service.NewRegistry()
	reg.MustRegister(metrics.NewStreamCollector(conn.JS, sc))
	d, err := deliver.New(ctx, conn.JS, client, cache, deliver.Config{
		Streams: sc, Policy: policy, URLs: urls,
		Concurrency: s.Concurrency, Prefetch: s.Prefetch, PerHostConcurrency: s.PerHostConcurrency,
		ShutdownTimeout: s.ShutdownTimeout, Logger: &log, Metrics: metrics.NewDeliverer(reg), Links: links,
	})
	if err != nil {
		return err
	}
	checks := []service.Check{
		func() error { return ready(conn.NC.IsConnected(), "not connected to NATS") },
		func() error { return ready(cache.Ready(), "signing-secret cache not in sync") },
		func() error { return ready(d.Ready(), "not consuming") },
	}
	if ops != nil {
		srv := &http.Server{Handler: service.OpsHandler(reg, checks, nil, nil), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ops)
		defer srv.Close()
	}
	return d.Run(ctx)
}

// ready is a readiness check: nil when ok, else why not.
func ready(ok bool, why string) error {
	if ok {
		return nil
	}
	return errors.New(why)
}
