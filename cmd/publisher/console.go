package main

import (
	"context"
	stdlog "log"
	"net"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/console"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
)

// consoleAddr is the console's address: "" (no listener) unless
// PUBLISHER_CONSOLE_ENABLED.
func (c config) consoleAddr() string {
	if !c.ConsoleEnabled {
		return ""
	}
	return c.ConsoleAddr
}

// serveConsole serves the web console on ln (nil: disabled) and returns
// the function that stops it: in-flight requests get shutdownTimeout, and
// its background replays end with ctx.
func serveConsole(ctx context.Context, cfg config, ln net.Listener, js jetstream.JetStream, store logstore.Store,
	acc access, log zerolog.Logger) (func(), error) {
	if ln == nil {
		return func() {}, nil
	}
	h, err := console.New(console.Config{Auth: acc.auth, Log: store, JS: js, Streams: cfg.Streams(), Secrets: acc.secrets,
		History: logstore.History(store), Logger: log.With().Str("component", "console").Logger(), Context: ctx})
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          stdlog.New(log.With().Str("component", "console-http").Logger(), "", 0),
	}
	go func() { _ = srv.Serve(ln) }()
	log.Info().Str("addr", ln.Addr().String()).Str("url", "http://"+ln.Addr().String()+"/").Msg("console listening")
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}
