package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/embedded"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/storetest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// historyOrgs is how many organizations the history records are spread over.
const historyOrgs = 10

// history measures what keeping the delivery history costs the broker:
// the heap a nats-server holds per retained event, after a restart (so
// that only the state it keeps for the stream counts, not caches of
// recently written blocks), for the attempt stream (subjects per
// organization) and for the legacy WEBHOOKS_OUTCOMES (one subject per
// event, the latest record only). Both get the same records, without
// Nats-Msg-Id (the dedupe window's cost is bounded by its 2 minutes, not
// by retention).
func history(ctx context.Context, o options, r *report) error {
	sc := streams.Config{}.WithDefaults()
	attempts := sc.AttemptsStreamConfig()
	attempts.Duplicates = 0
	legacy := jetstream.StreamConfig{Name: sc.OutcomesStream, Subjects: []string{sc.OutcomeFilterAll()},
		Storage: jetstream.FileStorage, MaxMsgsPerSubject: 1, AllowDirect: true, Replicas: 1}
	for _, v := range []struct {
		label, key string
		cfg        jetstream.StreamConfig
		subject    func(rec *envelope.AttemptRecord, i int) string
	}{
		{"WEBHOOKS_ATTEMPTS (subject per org)", "history_broker_b_per_event", attempts,
			func(rec *envelope.AttemptRecord, _ int) string { return sc.AttemptSubject(rec.OrgID, rec.Source) }},
		{"WEBHOOKS_OUTCOMES (subject per event, legacy)", "history_old_b_per_event", legacy,
			func(rec *envelope.AttemptRecord, _ int) string {
				return sc.SubjectPrefix + ".outcome." + rec.OrgID + "." + string(rec.Source) + "." + rec.EventID
			}},
	} {
		empty, _, err := brokerHeap(ctx, v.cfg, 0, v.subject)
		if err != nil {
			return fmt.Errorf("%s: %w", v.label, err)
		}
		full, restart, err := brokerHeap(ctx, v.cfg, o.historyEvents, v.subject)
		if err != nil {
			return fmt.Errorf("%s: %w", v.label, err)
		}
		per := float64(int64(full)-int64(empty)) / float64(o.historyEvents)
		r.printf("  %-48s %8d events retained: broker heap %6.1f MiB (empty stream %5.1f MiB) = %6.0f bytes/event; restart %v",
			v.label, o.historyEvents, float64(full)/(1<<20), float64(empty)/(1<<20), per, restart.Round(time.Millisecond))
		r.set(v.key, max(per, 0))
	}
	return nil
}

// brokerHeap stores n attempt records on a stream of cfg in a fresh
// server, restarts the server on the same store, and returns the live heap
// of this process with the restarted server running (after a collection)
// and how long the restart took until the stream answered with n messages.
func brokerHeap(ctx context.Context, cfg jetstream.StreamConfig, n int, subject func(*envelope.AttemptRecord, int) string) (uint64, time.Duration, error) {
	dir, err := os.MkdirTemp("", "webhooks-bench-history-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	store := filepath.Join(dir, "js")
	if err := fillStream(ctx, store, cfg, n, subject); err != nil {
		return 0, 0, err
	}
	runtime.GC()
	began := time.Now()
	srv, err := embedded.Start(embedded.Config{Port: -1, StoreDir: store})
	if err != nil {
		return 0, 0, err
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	nc, err := nats.Connect(srv.ClientURL(), nats.Name("bench-history"))
	if err != nil {
		return 0, 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, 0, err
	}
	s, err := js.Stream(ctx, cfg.Name)
	if err != nil {
		return 0, 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	restart := time.Since(began)
	if info.State.Msgs != uint64(n) {
		return 0, 0, fmt.Errorf("restarted stream holds %d messages, want %d", info.State.Msgs, n)
	}
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, restart, nil
}

// fillStream creates the stream in a server on store and publishes n
// records to it, spread over historyOrgs organizations.
func fillStream(ctx context.Context, store string, cfg jetstream.StreamConfig, n int, subject func(*envelope.AttemptRecord, int) string) error {
	srv, err := embedded.Start(embedded.Config{Port: -1, StoreDir: store})
	if err != nil {
		return err
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	nc, err := nats.Connect(srv.ClientURL(), nats.Name("bench-history"))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(publishWindow))
	if err != nil {
		return err
	}
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		return err
	}
	now := time.Now()
	for i := range n {
		rec := storetest.Record(fmt.Sprintf("org_%d", i%historyOrgs), fmt.Sprintf("ev-%08d", i), now)
		data, err := rec.Encode()
		if err != nil {
			return err
		}
		if _, err := js.PublishAsync(subject(rec, i), data); err != nil {
			return err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("%d publishes not acked within 5 minutes", js.PublishAsyncPending())
	}
	return nil
}
