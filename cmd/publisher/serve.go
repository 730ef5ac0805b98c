package main

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/ingest"
	"github.com/sixtyfour-oss/webhooks/internal/natsconn"
	"github.com/sixtyfour-oss/webhooks/internal/streams"
	"github.com/sixtyfour-oss/webhooks/internal/version"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
)

// HTTP server limits of the ingest API.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	// shutdownTimeout bounds how long in-flight requests may finish after
	// ctx is cancelled; it exceeds the longest publish (tries × try timeout).
	shutdownTimeout = 25 * time.Second
)

// serve runs the ingest API until ctx is cancelled, then stops accepting
// requests, lets in-flight ones finish (their events are stored or
// refused, never half-done), and closes the NATS connection.
func serve(ctx context.Context, cfg config, log zerolog.Logger) error {
	log.Info().Str("version", version.Version).Msg("publisher starting")
	warnUnsafe(log, cfg)
	conn, err := natsconn.Open(cfg.Config, "webhooks-publisher", log)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := streams.Ensure(ctx, conn.JS, cfg.Streams()); err != nil {
		return err
	}
	pub := publish.New(conn.JS, cfg.publishConfig())
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("PUBLISHER_LISTEN_ADDR %q: %w", cfg.ListenAddr, err)
	}
	srv := &http.Server{
		Handler:           ingest.NewHandler(pub, cfg.ingestConfig(&log)),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          stdlog.New(log.With().Str("component", "http").Logger(), "", 0),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	log.Info().Str("addr", ln.Addr().String()).Msg("ingest API listening")

	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info().Msg("publisher stopped")
	return nil
}
