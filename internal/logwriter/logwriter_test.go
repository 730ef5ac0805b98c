package logwriter_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/storetest"
	"github.com/sixtyfour-oss/webhooks/internal/pgtest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// Every attempt of every delivered event reaches the store, in both
// stores, through a real deliverer.
func TestEveryAttemptIsStored(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			var store logstore.Store
			if kind == "sqlite" {
				store, _ = sqliteStore(t)
			} else {
				store = pgStore(t, pgtest.Database(t))
			}
			_, js, _ := jstest.Pipeline(t, streams.Config{})
			sc := streams.Config{}.WithDefaults()
			m, reg := newMetrics()
			cfg := fastWriter(sc)
			cfg.Metrics = m
			w, _ := startWriter(t, js, store, cfg)
			startDeliverer(t, js, sc)
			rc := newFlakyReceiver(t)
			pub := publish.New(js, publish.Config{Streams: sc, URLs: envelope.URLPolicy{AllowHTTP: true}, Destinations: loopback})
			ids := publishJobs(t, pub, rc.URL, "t", 50)
			waitAllStored(t, store, ids, 30*time.Second)
			if err := w.Ready(); err != nil {
				t.Errorf("Ready after successful writes: %v", err)
			}
			if got := counter(t, reg, "webhooks_log_writer_records_total", "written"); got != 100 {
				t.Errorf("records written = %v, want 100", got)
			}
			d, err := store.Find(jstest.Context(t, 5*time.Second), logstore.ByEventID, ids[0], "org_1")
			if err != nil || len(d) != 1 || d[0].State != envelope.StateDelivered || d[0].Attempts != 2 {
				t.Errorf("Find(%s) = %+v, %v; want one delivered round of 2 attempts", ids[0], d, err)
			}
		})
	}
}

// The database goes away for a minute (its connections cut, new ones
// refused): the deliverer goes on delivering, the records wait on the
// attempt stream, the writer reports not ready, and once the database is
// back every attempt is stored exactly once.
func TestPostgresDownForAMinute(t *testing.T) {
	const outage = 60 * time.Second
	dbURL := pgtest.Database(t)
	u, err := pgxURL(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	px := newProxy(t, u.Host)
	u.Host = px.addr()
	store := pgStore(t, u.String())

	_, js, _ := jstest.Pipeline(t, streams.Config{})
	sc := streams.Config{}.WithDefaults()
	w, _ := startWriter(t, js, store, fastWriter(sc))
	startDeliverer(t, js, sc)
	rc := newFlakyReceiver(t)
	pub := publish.New(js, publish.Config{Streams: sc, URLs: envelope.URLPolicy{AllowHTTP: true}, Destinations: loopback})

	before := publishJobs(t, pub, rc.URL, "before", 20)
	waitAllStored(t, store, before, 30*time.Second)

	px.cut()
	cutAt := time.Now()
	during := publishJobs(t, pub, rc.URL, "during", 100)
	jstest.Eventually(t, 30*time.Second, func() bool { return rc.delivered(during) == len(during) },
		"every event published during the outage delivered")
	jstest.Eventually(t, 30*time.Second, func() bool { return w.Ready() != nil },
		"the writer reports not ready while the store is down")
	t.Logf("outage: %d events delivered %v after the cut; writer: %v", len(during), time.Since(cutAt).Round(time.Millisecond), w.Ready())
	time.Sleep(time.Until(cutAt.Add(outage))) // the outage itself: a minute, by the figure

	px.restore()
	all := append(append([]string{}, before...), during...)
	waitAllStored(t, store, all, 60*time.Second)
	jstest.Eventually(t, 30*time.Second, func() bool { return w.Ready() == nil }, "the writer ready again")
	if got := countAttemptRecords(t, js, sc); got != 2*len(all) {
		t.Errorf("attempt stream holds %d records, want %d", got, 2*len(all))
	}
}

// An SQLite file whose write lock another process holds for seconds (a
// long checkpoint, a backup): deliveries go on and the records are stored
// exactly once when the lock is released.
func TestSQLiteLockedForSeconds(t *testing.T) {
	store, path := sqliteStore(t)
	_, js, _ := jstest.Pipeline(t, streams.Config{})
	sc := streams.Config{}.WithDefaults()
	startWriter(t, js, store, fastWriter(sc))
	startDeliverer(t, js, sc)
	rc := newFlakyReceiver(t)
	pub := publish.New(js, publish.Config{Streams: sc, URLs: envelope.URLPolicy{AllowHTTP: true}, Destinations: loopback})

	before := publishJobs(t, pub, rc.URL, "before", 10)
	waitAllStored(t, store, before, 30*time.Second)

	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := jstest.Context(t, 60*time.Second)
	lock, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	during := publishJobs(t, pub, rc.URL, "during", 50)
	jstest.Eventually(t, 30*time.Second, func() bool { return rc.delivered(during) == len(during) },
		"every event published while the store is locked delivered")
	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	lock.Close()
	all := append(append([]string{}, before...), during...)
	waitAllStored(t, store, all, 60*time.Second)
}

// A record that does not decode is terminated and counted; the records
// around it are stored.
func TestMalformedRecordIsDropped(t *testing.T) {
	store, _ := sqliteStore(t)
	_, js, _ := jstest.Pipeline(t, streams.Config{})
	sc := streams.Config{}.WithDefaults()
	m, reg := newMetrics()
	cfg := fastWriter(sc)
	cfg.Metrics = m
	startWriter(t, js, store, cfg)

	now := time.Now()
	good := []*envelope.AttemptRecord{storetest.Record("org_1", "ev-a", now), storetest.Record("org_1", "ev-b", now)}
	publishRecords(t, js, sc, good[:1])
	ctx := jstest.Context(t, 10*time.Second)
	for _, bad := range []string{`{"v":1,"event_id":"x"}`, `not json`, `{"v":99}`} {
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: sc.AttemptSubject("org_1", envelope.SourceJob), Data: []byte(bad)}); err != nil {
			t.Fatal(err)
		}
	}
	publishRecords(t, js, sc, good[1:])
	for _, id := range []string{"ev-a", "ev-b"} {
		jstest.Eventually(t, 10*time.Second, func() bool {
			_, err := store.Timeline(ctx, "org_1", id)
			return err == nil
		}, "%s stored", id)
	}
	jstest.Eventually(t, 10*time.Second, func() bool {
		return counter(t, reg, "webhooks_log_writer_malformed_records_total", "") == 3
	}, "three malformed records counted")
	info, err := js.Consumer(ctx, sc.AttemptsStream, sc.LogConsumer)
	if err != nil {
		t.Fatal(err)
	}
	jstest.Eventually(t, 10*time.Second, func() bool {
		ci, err := info.Info(ctx)
		return err == nil && ci.NumAckPending == 0 && ci.NumPending == 0
	}, "nothing left pending on the log writers' consumer")
}

// A batch committed by a writer that died before acking it comes back:
// the next writer writes it again and the store still holds one row per
// attempt.
func TestCommittedButUnackedBatchIsStoredOnce(t *testing.T) {
	store, path := sqliteStore(t)
	_, js, _ := jstest.Pipeline(t, streams.Config{})
	sc := streams.Config{}.WithDefaults()
	now := time.Now()
	recs := storetest.Batch(now, 0, 200)
	publishRecords(t, js, sc, recs)
	ctx := jstest.Context(t, 30*time.Second)
	if err := store.Write(ctx, recs[:120]); err != nil { // committed, never acked
		t.Fatal(err)
	}
	startWriter(t, js, store, fastWriter(sc))
	jstest.Eventually(t, 30*time.Second, func() bool { return countRows(t, path) == len(recs) }, "200 rows")
	assertOneRowPerRecord(t, path, recs)
}

// Importing the legacy outcome stream twice imports it once.
func TestImportOutcomesOnce(t *testing.T) {
	store, _ := sqliteStore(t)
	_, js, _ := jstest.Pipeline(t, streams.Config{})
	sc := streams.Config{}.WithDefaults()
	ctx := jstest.Context(t, 30*time.Second)
	if _, err := js.CreateStream(ctx, legacyOutcomesStream(sc)); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	write := func(o envelope.Outcome) {
		data, err := o.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, sc.SubjectPrefix+".outcome.org_1.job."+o.EventID, data); err != nil {
			t.Fatal(err)
		}
	}
	base := envelope.Outcome{V: 1, OrgID: "org_1", Source: envelope.SourceJob, EventType: "find_email", TaskID: "t1",
		Host: "hooks.example.com", QueuedAt: now.Add(-time.Hour)}
	retrying := base
	retrying.EventID, retrying.State, retrying.Attempts, retrying.StatusCode, retrying.LastAttemptAt = "ev-1", envelope.StateRetrying, 2, 500, now.Add(-50*time.Minute)
	write(retrying)
	delivered := retrying
	delivered.State, delivered.Final, delivered.Attempts, delivered.StatusCode = envelope.StateDelivered, true, 3, 200
	write(delivered) // the latest state of ev-1 supersedes the first on its subject
	other := base
	other.EventID, other.State, other.Final, other.Attempts, other.StatusCode, other.LastAttemptAt = "ev-2", envelope.StateUndelivered, true, 6, 410, now.Add(-40*time.Minute)
	write(other)
	if _, err := js.Publish(ctx, sc.SubjectPrefix+".outcome.org_1.job.ev-3", []byte("garbage")); err != nil {
		t.Fatal(err)
	}

	log := zerologNop()
	n, err := logwriterImport(ctx, js, store, sc, log)
	if err != nil || n != 2 {
		t.Fatalf("first import = %d, %v; want 2 records (the garbage one skipped)", n, err)
	}
	n, err = logwriterImport(ctx, js, store, sc, log)
	if err != nil || n != 0 {
		t.Fatalf("second import = %d, %v; want 0 (already imported)", n, err)
	}
	d, err := store.Find(ctx, logstore.ByEventID, "ev-1", "org_1")
	if err != nil || len(d) != 1 || d[0].State != envelope.StateDelivered || d[0].Attempts != 3 || d[0].StatusCode != 200 {
		t.Errorf("ev-1 = %+v, %v; want its latest state, delivered on attempt 3", d, err)
	}
	d, err = store.Find(ctx, logstore.ByEventID, "ev-2", "")
	if err != nil || len(d) != 1 || d[0].State != envelope.StateUndelivered || d[0].StatusCode != 410 {
		t.Errorf("ev-2 = %+v, %v; want undelivered 410", d, err)
	}
	if _, err := store.Timeline(ctx, "", "ev-3"); !isNotFound(err) {
		t.Errorf("the garbage record imported: %v", err)
	}
}

// Without a legacy stream the import only marks itself done.
func TestImportWithoutLegacyStream(t *testing.T) {
	store, _ := sqliteStore(t)
	_, js, _ := jstest.Pipeline(t, streams.Config{})
	ctx := jstest.Context(t, 10*time.Second)
	n, err := logwriterImport(ctx, js, store, streams.Config{}, zerologNop())
	if err != nil || n != 0 {
		t.Fatalf("import = %d, %v", n, err)
	}
	if done, err := store.Marker(ctx, "import:WEBHOOKS_OUTCOMES"); err != nil || !done {
		t.Errorf("marker = %v, %v; want done", done, err)
	}
}
