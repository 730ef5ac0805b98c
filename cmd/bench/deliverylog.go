package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/embedded"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/pgstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/sqlitestore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/storetest"
	"github.com/sixtyfour-oss/webhooks/internal/logwriter"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// deliveryLog measures the delivery log on each store (SQLite always,
// PostgreSQL when -pg-url or WEBHOOKS_TEST_POSTGRES_URL names a server):
//
//   - the log writer's ingest lag, from a record's arrival on
//     WEBHOOKS_ATTEMPTS to its commit, at -log-rate records/s offered for
//     -log-duration;
//   - with -log-events events stored (spread over 14 days and
//     historyOrgs organizations, a fifth of them with a failed first
//     attempt), the time of an event's timeline and of a 100-row page of
//     an organization's search (filters, and the next page by cursor).
func deliveryLog(ctx context.Context, o options, r *report) error {
	kinds := []string{logstore.KindSQLite}
	if o.pgURL != "" {
		kinds = append(kinds, logstore.KindPostgres)
	} else {
		r.printf("  PostgreSQL: not measured (set -pg-url or WEBHOOKS_TEST_POSTGRES_URL; scripts/postgres.sh starts one)")
	}
	var worstTimeline, worstPage time.Duration
	for _, kind := range kinds {
		store, closeStore, err := benchStore(ctx, o, kind)
		if err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		lag, err := writerLag(ctx, o, store)
		if err != nil {
			closeStore()
			return fmt.Errorf("%s: writer lag: %w", kind, err)
		}
		r.printf("  %-10s log writer lag at %.0f records/s for %v: %s", kind, o.logRate, o.logDuration, lag)
		r.set("log_lag_p99_ms_"+map[string]string{logstore.KindSQLite: "sqlite", logstore.KindPostgres: "pg"}[kind], ms(lag.p99))
		tl, page, err := queryTimes(ctx, o, r, kind, store)
		closeStore()
		if err != nil {
			return fmt.Errorf("%s: queries: %w", kind, err)
		}
		worstTimeline, worstPage = max(worstTimeline, tl.p99), max(worstPage, page.p99)
	}
	r.set("log_timeline_ms", ms(worstTimeline))
	r.set("log_page_ms", ms(worstPage))
	return nil
}

// benchStore opens a fresh store of kind: an SQLite file in a temp dir,
// or a new database on the PostgreSQL server (dropped by the close func).
func benchStore(ctx context.Context, o options, kind string) (logstore.Store, func(), error) {
	if kind == logstore.KindSQLite {
		dir, err := os.MkdirTemp("", "webhooks-bench-log-")
		if err != nil {
			return nil, nil, err
		}
		s, err := sqlitestore.Open(ctx, filepath.Join(dir, "deliveries.db"), logstore.Options{})
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		return s, func() {
			s.Close()
			if !o.keep {
				os.RemoveAll(dir)
			}
		}, nil
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "bench_" + hex.EncodeToString(b[:])
	if err := pgExec(ctx, o.pgURL, "CREATE DATABASE "+name); err != nil {
		return nil, nil, err
	}
	u, err := url.Parse(o.pgURL)
	if err != nil {
		return nil, nil, err
	}
	u.Path = "/" + name
	s, err := pgstore.Open(ctx, u.String(), logstore.Options{})
	if err != nil {
		_ = pgExec(ctx, o.pgURL, "DROP DATABASE "+name)
		return nil, nil, err
	}
	return s, func() {
		s.Close()
		_ = pgExec(context.Background(), o.pgURL, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}, nil
}

func pgExec(ctx context.Context, server, sql string) error {
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// writerLag runs a log writer on store and offers it o.logRate records/s
// for o.logDuration (after a 1 s warm-up that is not measured), and
// returns the distribution of the records' ingest lag.
func writerLag(ctx context.Context, o options, store logstore.Store) (dist, error) {
	dir, err := os.MkdirTemp("", "webhooks-bench-logwriter-")
	if err != nil {
		return dist{}, err
	}
	defer os.RemoveAll(dir)
	srv, err := embedded.Start(embedded.Config{Port: -1, StoreDir: filepath.Join(dir, "js")})
	if err != nil {
		return dist{}, err
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	nc, err := nats.Connect(srv.ClientURL(), nats.Name("bench-logwriter"))
	if err != nil {
		return dist{}, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(publishWindow))
	if err != nil {
		return dist{}, err
	}
	sc := streams.Config{}.WithDefaults()
	if _, err := streams.Ensure(ctx, js, sc); err != nil {
		return dist{}, err
	}
	var mu sync.Mutex
	var lags []time.Duration
	measuring := false
	w, err := logwriter.New(ctx, js, store, logwriter.Config{Streams: sc, Observe: func(lag time.Duration) {
		mu.Lock()
		if measuring {
			lags = append(lags, lag)
		}
		mu.Unlock()
	}})
	if err != nil {
		return dist{}, err
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	defer func() { stop(); <-done }()

	warmup := min(time.Second, o.logDuration)
	total := warmup + o.logDuration
	tick := 5 * time.Millisecond
	perTick := o.logRate * tick.Seconds()
	began := time.Now()
	sent, owed := 0, 0.0
	t := time.NewTicker(tick)
	defer t.Stop()
	for elapsed := time.Duration(0); elapsed < total; elapsed = time.Since(began) {
		if elapsed >= warmup {
			mu.Lock()
			measuring = true
			mu.Unlock()
		}
		for owed += perTick; owed >= 1; owed-- {
			rec := storetest.Record(fmt.Sprintf("org_%d", sent%historyOrgs), fmt.Sprintf("lag-%d", sent), time.Now())
			if err := publishRecord(js, sc, rec); err != nil {
				return dist{}, err
			}
			sent++
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return dist{}, ctx.Err()
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for w.Status().Written < uint64(sent) {
		if time.Now().After(deadline) {
			return dist{}, fmt.Errorf("%d of %d records written 30 s after the load", w.Status().Written, sent)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	return distribution(lags), nil
}

// publishRecord publishes rec on the attempt stream as the deliverer does.
func publishRecord(js jetstream.JetStream, sc streams.Config, rec *envelope.AttemptRecord) error {
	msg, err := sc.AttemptMsg(rec)
	if err != nil {
		return err
	}
	_, err = js.PublishMsgAsync(msg)
	return err
}

// queryTimes fills store with o.logEvents events and times timelines and
// pages; it prints the details and returns both distributions.
func queryTimes(ctx context.Context, o options, r *report, kind string, store logstore.Store) (dist, dist, error) {
	began := time.Now()
	ids, rows, err := fillLog(ctx, store, o.logEvents)
	if err != nil {
		return dist{}, dist{}, err
	}
	took := time.Since(began)
	r.printf("  %-10s %d events (%d attempt rows) stored in %.1f s = %.0f rows/s", kind, len(ids), rows, took.Seconds(), float64(rows)/took.Seconds())
	rng := mrand.New(mrand.NewPCG(1, 2))
	const lookups = 500
	var tl []time.Duration
	for range lookups {
		id := ids[rng.IntN(len(ids))]
		t0 := time.Now()
		got, err := store.Timeline(ctx, "", id)
		if err != nil {
			return dist{}, dist{}, fmt.Errorf("timeline %s: %w", id, err)
		}
		tl = append(tl, time.Since(t0))
		if len(got.Rounds) != 1 {
			return dist{}, dist{}, fmt.Errorf("timeline %s: %d rounds", id, len(got.Rounds))
		}
	}
	td := distribution(tl)
	r.printf("  %-10s timeline of one event (%d random lookups): %s", kind, lookups, td)

	now := time.Now()
	var pages []time.Duration
	searches := []struct {
		label string
		query func() logstore.Query
	}{
		{"no filter", func() logstore.Query { return logstore.Query{} }},
		{"time range", func() logstore.Query {
			from := now.Add(-time.Duration(1+rng.IntN(12)) * 24 * time.Hour)
			return logstore.Query{From: from, To: from.Add(24 * time.Hour)}
		}},
		{"state delivered", func() logstore.Query { return logstore.Query{State: envelope.StateDelivered} }},
		{"state undelivered", func() logstore.Query { return logstore.Query{State: envelope.StateUndelivered} }},
		{"status 5xx, 7 days", func() logstore.Query {
			return logstore.Query{StatusClass: "5xx", From: now.Add(-7 * 24 * time.Hour)}
		}},
		{"host, 7 days", func() logstore.Query {
			return logstore.Query{Host: "hooks.example.com", From: now.Add(-7 * 24 * time.Hour)}
		}},
	}
	const perKind = 25
	for _, k := range searches {
		var kd []time.Duration
		for range perKind {
			q := k.query()
			q.OrgID, q.Limit = fmt.Sprintf("org_%d", rng.IntN(historyOrgs)), 100
			t0 := time.Now()
			page, err := store.Search(ctx, q)
			if err != nil {
				return dist{}, dist{}, fmt.Errorf("search %+v: %w", q, err)
			}
			kd = append(kd, time.Since(t0))
			if page.Next != "" {
				q.Cursor = page.Next
				t0 = time.Now()
				if _, err := store.Search(ctx, q); err != nil {
					return dist{}, dist{}, fmt.Errorf("next page: %w", err)
				}
				kd = append(kd, time.Since(t0))
			}
		}
		pages = append(pages, kd...)
		r.printf("  %-10s   page, %-20s %s", kind, k.label+":", distribution(kd))
	}
	pd := distribution(pages)
	r.printf("  %-10s 100-row page of an organization's search (%d searches of each kind above, each with its next page): %s",
		kind, perKind, pd)
	return td, pd, nil
}

// fillLog writes n events in batches of 1000 (the writer's batch): queued
// over the last 13 days, oldest first, every fifth with a first attempt
// that got a 503 and a second that was delivered, one in 47
// undelivered after a 500. It returns the event ids
// and the attempt rows written.
func fillLog(ctx context.Context, store logstore.Store, n int) ([]string, int, error) {
	ids := make([]string, 0, n)
	now := time.Now()
	span := 13 * 24 * time.Hour
	batch := make([]*envelope.AttemptRecord, 0, 1000)
	rows := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		rows += len(batch)
		err := store.Write(ctx, batch)
		batch = batch[:0]
		return err
	}
	for i := range n {
		queued := now.Add(-span + time.Duration(float64(span)*float64(i)/float64(n)))
		id := fmt.Sprintf("%s-%08d", queued.UTC().Format("20060102T150405"), i)
		ids = append(ids, id)
		rec := storetest.Record(fmt.Sprintf("org_%d", i%historyOrgs), id, queued)
		if i%47 == 7 { // undelivered after a 500 (its earlier attempts left out)
			rec.StatusCode, rec.ResponseExcerpt, rec.ErrorClass, rec.Error = 500, "oops", "response", "HTTP 500"
			rec.Decision, rec.State = envelope.DecisionUndelivered, envelope.StateUndelivered
		}
		if i%5 == 0 {
			first := *rec
			first.StatusCode, first.ResponseExcerpt, first.ErrorClass, first.Error = 503, "busy", "response", "HTTP 503"
			first.Decision, first.State, first.Final, first.RetryDelayMS = envelope.DecisionRetry, envelope.StateRetrying, false, 1000
			next := first.FinishedAt.Add(time.Second)
			first.NextAttemptAt = &next
			rec.Attempt = 2
			rec.StartedAt, rec.FinishedAt = next, next.Add(150*time.Millisecond)
			batch = append(batch, &first)
		}
		batch = append(batch, rec)
		if len(batch) >= 1000 {
			if err := flush(); err != nil {
				return nil, 0, err
			}
		}
	}
	return ids, rows, flush()
}
