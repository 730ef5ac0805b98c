package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// Check is one readiness condition: nil when satisfied, else why not.
type Check func() error

// Detail returns lines that /readyz adds to its answer, ready or not
// (such as the log writer's lag).
type Detail func() string

// NewRegistry returns a registry with the Go runtime and process series.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// OpsHandler serves the operational endpoints of a process:
// GET /metrics (Prometheus), GET /healthz (200 while the process runs) and
// GET /readyz (200 when every check passes, else 503 naming the first
// failing one, followed by detail's lines when detail is set). extra, if
// not nil, serves every other path.
func OpsHandler(reg *prometheus.Registry, checks []Check, detail Detail, extra http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		more := ""
		if detail != nil {
			more = detail()
		}
		for _, check := range checks {
			if err := check(); err != nil {
				http.Error(w, "not ready: "+err.Error()+"\n"+more, http.StatusServiceUnavailable)
				return
			}
		}
		w.Write([]byte("ready\n" + more))
	})
	if extra != nil {
		mux.Handle("/", extra)
	}
	return mux
}

// ServeOps listens on addr and serves h until ctx ends. An empty addr
// disables it. It returns once listening, or with the listen error. A
// process binds its listeners first instead (Listen, then ServeOpsOn), so
// that a clash stops it before it starts.
func ServeOps(ctx context.Context, addr string, h http.Handler, log zerolog.Logger) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("ops endpoint %s: %w", addr, err)
	}
	ServeOpsOn(ctx, ln, h, log)
	return nil
}

// ServeOpsOn serves h on ln until ctx ends, then closes ln. A nil ln
// disables it.
func ServeOpsOn(ctx context.Context, ln net.Listener, h http.Handler, log zerolog.Logger) {
	if ln == nil {
		return
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		// A listener closed by its owner (the Run function returning) is
		// a clean stop too, not news.
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			log.Error().Err(err).Msg("ops endpoint stopped")
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info().Str("addr", ln.Addr().String()).Msg("ops endpoint listening: /metrics /healthz /readyz")
}
