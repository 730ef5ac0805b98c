// Command go-receiver is a minimal receiver for signed Sixtyfour webhooks.
//
// It verifies the Sixtyfour-Signature header over the raw body with
// pkg/sign, drops duplicates by Sixtyfour-Event-Id (an in-memory set), logs
// one line per delivery and answers 204. Bad signatures get 400.
//
// Environment:
//
//	SIGNING_SECRETS  comma-separated signing secrets, one or two
//	                 (the current one and, during a rotation, the previous one). Required.
//	LISTEN_ADDR      address to listen on. Defaults to 127.0.0.1:8081.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

const (
	defaultListenAddr = "127.0.0.1:8081"
	// maxBodyBytes caps what the receiver reads; larger requests get 413.
	maxBodyBytes = 1 << 20
	// shutdownTimeout is how long in-flight requests get after a signal.
	shutdownTimeout = 5 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, os.Getenv, logger); err != nil {
		logger.Error("go-receiver stopped", "err", err)
		os.Exit(1)
	}
}

// config is what run reads from the environment.
type config struct {
	secrets    []string
	listenAddr string
}

// loadConfig reads SIGNING_SECRETS and LISTEN_ADDR. Errors name the variable
// and never contain a secret.
func loadConfig(getenv func(string) string) (config, error) {
	cfg := config{listenAddr: getenv("LISTEN_ADDR")}
	if cfg.listenAddr == "" {
		cfg.listenAddr = defaultListenAddr
	}
	for _, s := range strings.Split(getenv("SIGNING_SECRETS"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.secrets = append(cfg.secrets, s)
		}
	}
	if n := len(cfg.secrets); n < 1 || n > 2 {
		return config{}, fmt.Errorf("SIGNING_SECRETS: got %d secrets, want 1 or 2 (comma-separated)", n)
	}
	for i, s := range cfg.secrets {
		if err := sign.ValidateSecret(s); err != nil {
			return config{}, fmt.Errorf("SIGNING_SECRETS: secret %d (%s): %w", i+1, sign.Mask(s), err)
		}
	}
	return cfg, nil
}

// run serves until ctx is cancelled, then shuts down gracefully.
func run(ctx context.Context, getenv func(string) string, logger *slog.Logger) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              cfg.listenAddr,
		Handler:           newHandler(cfg.secrets, time.Now, logger),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("listening", "addr", cfg.listenAddr, "secrets", len(cfg.secrets))

	select {
	case err := <-errc:
		return fmt.Errorf("listen on %s: %w", cfg.listenAddr, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// eventSet remembers event ids already handled. A real receiver uses a
// shared store with a TTL (days, longer than the sender's retry window)
// instead of an unbounded in-memory map.
type eventSet struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

// add records id and reports whether it was new.
func (s *eventSet) add(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.ids[id]; dup {
		return false
	}
	s.ids[id] = struct{}{}
	return true
}

// newHandler returns the receiver: POST only; body capped at maxBodyBytes;
// signature verified over the raw bytes against secrets at now() with
// sign.DefaultTolerance (400 if it fails); Sixtyfour-Event-Id required
// (400 if absent); duplicates acknowledged with 204 without reprocessing.
func newHandler(secrets []string, now func() time.Time, logger *slog.Logger) http.Handler {
	seen := &eventSet{ids: make(map[string]struct{})}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		// Verify before looking at anything else the sender controls.
		if err := sign.Verify(r.Header.Get(sign.HeaderName), body, secrets, now(), sign.DefaultTolerance); err != nil {
			logger.Warn("rejected delivery", "reason", err, "remote", r.RemoteAddr)
			http.Error(w, "invalid signature", http.StatusBadRequest)
			return
		}
		eventID := r.Header.Get("Sixtyfour-Event-Id")
		if eventID == "" {
			http.Error(w, "missing Sixtyfour-Event-Id", http.StatusBadRequest)
			return
		}
		attrs := []any{
			"event_id", eventID,
			"event_type", r.Header.Get("Sixtyfour-Event-Type"),
			"attempt", r.Header.Get("Sixtyfour-Delivery-Attempt"),
			"bytes", len(body),
		}
		if !seen.add(eventID) {
			logger.Info("duplicate delivery ignored", attrs...)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		// Parse the JSON body and hand the work off here; answer quickly.
		logger.Info("delivery accepted", attrs...)
		w.WriteHeader(http.StatusNoContent)
	})
}
