package service

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/storeurl"
	"github.com/sixtyfour-oss/webhooks/internal/logwriter"
	"github.com/sixtyfour-oss/webhooks/internal/metrics"
	"github.com/sixtyfour-oss/webhooks/internal/natsconn"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// LogWriterSettings are the log writer's settings: the common ones, the
// delivery log's, and its own.
type LogWriterSettings struct {
	config.Common
	config.LogStore
	// OpsAddr serves /metrics, /healthz and /readyz; empty disables it.
	OpsAddr string `envconfig:"LOG_WRITER_OPS_ADDR" default:"127.0.0.1:9093"`
	// Batch is the most attempt records per store transaction.
	Batch int `envconfig:"LOG_WRITER_BATCH" default:"1000"`
	// PruneInterval is how often rounds older than LOG_RETENTION are removed.
	PruneInterval time.Duration `envconfig:"LOG_PRUNE_INTERVAL" default:"1h"`
}

// Validate checks every setting and returns every problem at once, each
// naming its variable.
func (s LogWriterSettings) Validate() error {
	var own []error
	if s.Batch < 1 || s.Batch > 10000 {
		own = append(own, config.Bad("LOG_WRITER_BATCH", "got %d, want 1..10000", s.Batch))
	}
	if s.PruneInterval < time.Minute {
		own = append(own, config.Bad("LOG_PRUNE_INTERVAL", "got %v, want >= 1m", s.PruneInterval))
	}
	return config.Check(append(own, s.Common.Validate(), s.LogStore.Validate(),
		config.CheckAddr("LOG_WRITER_OPS_ADDR", s.OpsAddr, true))...)
}

// OpenStoreTimeout bounds opening (and migrating) the delivery log at
// start-up, so that an unreachable database stops the process with an
// error instead of hanging it.
const OpenStoreTimeout = time.Minute

// OpenLogStore opens the delivery log of the settings, within
// OpenStoreTimeout; errors name LOG_STORE_URL (without its password).
func OpenLogStore(ctx context.Context, l config.LogStore) (logstore.Store, error) {
	ctx, cancel := context.WithTimeout(ctx, OpenStoreTimeout)
	defer cancel()
	store, err := storeurl.Open(ctx, l.StoreURL, l.Options())
	if err != nil {
		return nil, fmt.Errorf("LOG_STORE_URL=%s: %w", logstore.Redact(l.StoreURL), err)
	}
	return store, nil
}

// RunLogWriter ensures the streams, opens the store (migrating it),
// imports the legacy outcome records once, and drains the attempt stream
// into the store until ctx is cancelled, pruning what is older than the
// retention every PruneInterval. It serves the ops endpoints on ops (nil:
// none; the caller binds it first, with Listen, so that a clash stops the
// process before it starts), which it closes when it returns.
func RunLogWriter(ctx context.Context, s LogWriterSettings, conn *natsconn.Conn, ops net.Listener, log zerolog.Logger) error {
	if ops != nil {
		defer ops.Close()
	}
	sc := s.Streams()
	if _, err := streams.Ensure(ctx, conn.JS, sc); err != nil {
		return err
	}
	store, err := OpenLogStore(ctx, s.LogStore)
	if err != nil {
		return err
	}
	defer store.Close()
	log.Info().Str("store", logstore.Redact(s.StoreURL)).Dur("retention", s.Retention).Msg("delivery log open")
	if _, err := logwriter.ImportOutcomes(ctx, conn.JS, store, sc, log); err != nil {
		return err
	}
	reg := NewRegistry()
	w, err := logwriter.New(ctx, conn.JS, store, logwriter.Config{
		Streams: sc, Batch: s.Batch, Logger: &log, Metrics: metrics.NewLogWriter(reg),
	})
	if err != nil {
		return err
	}
	checks := []Check{natsConnected(conn), w.Ready}
	detail := func() string {
		st := w.Status()
		return fmt.Sprintf("lag_seconds %.3f\npending_records %d\nwritten_records %d\n", st.LagSeconds, st.Pending, st.Written)
	}
	opsCtx, stopOps := context.WithCancel(context.WithoutCancel(ctx))
	defer stopOps()
	ServeOpsOn(opsCtx, ops, OpsHandler(reg, checks, detail, nil), log)
	go prune(ctx, store, s.Retention, s.PruneInterval, log)
	return w.Run(ctx)
}

// prune removes what is older than the retention now and every interval.
func prune(ctx context.Context, store logstore.Store, retention, every time.Duration, log zerolog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		cutoff := time.Now().Add(-retention)
		if n, err := store.Prune(ctx, cutoff); err != nil && ctx.Err() == nil {
			log.Error().Err(err).Msg("cannot prune the delivery log; retrying at the next interval")
		} else if n != 0 {
			log.Info().Int64("rounds", n).Time("cutoff", cutoff).Msg("pruned the delivery log")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
