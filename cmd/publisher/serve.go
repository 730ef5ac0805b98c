package main

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/adminapi"
	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	appconfig "github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/deliveries"
	"github.com/sixtyfour-oss/webhooks/internal/download"
	"github.com/sixtyfour-oss/webhooks/internal/ingest"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/metrics"
	"github.com/sixtyfour-oss/webhooks/internal/natsconn"
	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/internal/service"
	"github.com/sixtyfour-oss/webhooks/internal/status"
	"github.com/sixtyfour-oss/webhooks/internal/undeliveredapi"
	"github.com/sixtyfour-oss/webhooks/internal/version"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
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

// serve binds its addresses (an address in use stops it before it connects
// to anything), runs the ingest API until ctx is cancelled, then stops
// accepting requests, lets in-flight ones finish (their events are stored
// or refused, never half-done), and closes the NATS connection.
func serve(ctx context.Context, cfg config, log zerolog.Logger) error {
	lns, err := service.Listen(
		service.Address{Setting: "PUBLISHER_LISTEN_ADDR", Addr: cfg.ListenAddr},
		service.Address{Setting: "PUBLISHER_OPS_ADDR", Addr: cfg.OpsAddr, Optional: true},
		service.Address{Setting: "PUBLISHER_DOWNLOAD_ADDR", Addr: cfg.DownloadAddr, Optional: true},
		service.Address{Setting: "PUBLISHER_CONSOLE_ADDR", Addr: cfg.consoleAddr(), Optional: true},
	)
	if err != nil {
		return err
	}
	defer service.CloseListeners(lns)
	ingestLn, opsLn, downloadLn, consoleLn := lns[0], lns[1], lns[2], lns[3]
	log.Info().Str("version", version.Version).Msg("publisher starting")
	warnUnsafe(log, cfg)
	conn, err := natsconn.Open(cfg.NATS(), "webhooks-publisher", log)
	if err != nil {
		return err
	}
	defer conn.Close()
	res, err := streams.Ensure(ctx, conn.JS, cfg.Streams())
	if err != nil {
		return err
	}
	store, err := service.OpenLogStore(ctx, cfg.LogStore)
	if err != nil {
		return err
	}
	defer store.Close()
	pub := publish.New(conn.JS, cfg.publishConfig(res.Results))
	reg := service.NewRegistry()
	ingestCfg := cfg.ingestConfig(&log)
	ingestCfg.Metrics = metrics.NewPublisher(reg)
	acc, err := newAccess(cfg, res, log)
	if err != nil {
		return err
	}
	handler := routes(cfg, conn.JS, pub, ingestCfg, res, store, acc, log)
	stopConsole, err := serveConsole(ctx, cfg, consoleLn, conn.JS, store, acc, log)
	if err != nil {
		return err
	}
	opsCtx, stopOps := context.WithCancel(context.WithoutCancel(ctx))
	defer stopOps()
	checks := []service.Check{func() error {
		if !conn.NC.IsConnected() {
			return errors.New("not connected to NATS")
		}
		return nil
	}}
	service.ServeOpsOn(opsCtx, opsLn, service.OpsHandler(reg, checks, nil, nil), log)
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          stdlog.New(log.With().Str("component", "http").Logger(), "", 0),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ingestLn) }()
	log.Info().Str("addr", ingestLn.Addr().String()).Msg("ingest API listening")
	defer stopConsole()
	stopDownloads, err := serveDownloads(cfg, res, downloadLn, log)
	if err != nil {
		_ = srv.Close()
		return err
	}
	defer stopDownloads()

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

// access is who may read and change what: the API tokens and the
// signing-secret manager the APIs and the console share.
type access struct {
	auth    *apitoken.Authenticator
	secrets *secrets.Manager
}

// newAccess accepts the operator tokens of PUBLISHER_ADMIN_TOKENS and the
// stored API tokens. Creating and rolling secrets needs the master key;
// without one (and without admin tokens, which require it) secrets can
// only be shown.
func newAccess(cfg config, res *streams.Resources, log zerolog.Logger) (access, error) {
	keyring, err := cfg.Keyring(log)
	switch {
	case err != nil && len(cfg.adminTokens) > 0:
		return access{}, fmt.Errorf("PUBLISHER_ADMIN_TOKENS is set, so the admin API needs the master key: %w", err)
	case errors.Is(err, appconfig.ErrNoMasterKey):
		keyring = nil // metadata only
	case err != nil:
		return access{}, err
	}
	return access{
		auth:    apitoken.NewAuthenticator(apitoken.NewStore(res.Tokens, apitoken.StoreOptions{}), "PUBLISHER_ADMIN_TOKENS", cfg.adminTokens),
		secrets: &secrets.Manager{KV: res.Secrets, Keyring: keyring},
	}, nil
}

// routes mounts the ingest API (PUBLISHER_TOKENS) and, behind the API
// tokens, the status lookup, the delivery log, the undelivered events and
// the signing-secret API.
func routes(cfg config, js jetstream.JetStream, pub *publish.Publisher, ingestCfg ingest.Config, res *streams.Resources,
	store logstore.Store, acc access, log zerolog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", ingest.NewHandler(pub, ingestCfg))
	auth := acc.auth
	mux.Handle(status.Path, auth.Require(status.Handler(store, js, cfg.Streams())))
	deliveryLog := auth.Require(deliveries.Handler(store))
	mux.Handle(deliveries.Path, deliveryLog)
	mux.Handle(deliveries.Path+"/", deliveryLog)
	deadLetters := auth.Require(undeliveredapi.Handler(js, cfg.Streams(), undeliveredapi.Options{History: logstore.History(store), Log: log}))
	mux.Handle(undeliveredapi.Path, deadLetters)
	mux.Handle(undeliveredapi.Path+"/", deadLetters)
	secretAPI := auth.Require(adminapi.NewHandler(acc.secrets, log))
	mux.Handle(adminapi.PathPrefix, secretAPI)
	mux.Handle(adminapi.SecretsPathPrefix, secretAPI)
	log.Info().Strs("paths", []string{adminapi.PathPrefix, adminapi.SecretsPathPrefix}).Bool("can_create_secrets", acc.secrets.Keyring != nil).Msg("secret API enabled for API tokens")
	return mux
}

// serveDownloads serves signed result downloads on ln, bound for
// PUBLISHER_DOWNLOAD_ADDR (nil: not set), and returns the function that
// stops it (in-flight downloads get shutdownTimeout to finish). No bearer
// token: the signed URL is the credential. Downloads may run longer than
// writeTimeout: the handler extends its own write deadline
// (download.StreamTimeout).
func serveDownloads(cfg config, res *streams.Resources, ln net.Listener, log zerolog.Logger) (func(), error) {
	if ln == nil {
		return func() {}, nil
	}
	signer, _, err := cfg.DownloadSigner()
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(download.PathPrefix, download.Handler(res.Results, signer, log))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          stdlog.New(log.With().Str("component", "download-http").Logger(), "", 0),
	}
	go func() { _ = srv.Serve(ln) }()
	log.Info().Str("addr", ln.Addr().String()).Str("base_url", signer.BaseURL).Msg("download server listening")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
