package pgstore_test

import (
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/pressly/goose/v3"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/pgstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/storetest"
	"github.com/sixtyfour-oss/webhooks/internal/pgtest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// TestWriteOddText: text PostgreSQL refuses (NUL, invalid UTF-8) is stored
// as U+FFFD instead of failing the batch.
func TestWriteOddText(t *testing.T) {
	st, _ := fresh(t)
	r := storetest.Record("org-t", "odd-1", now().Add(-time.Hour))
	r.ResponseExcerpt, r.Error = "a\x00b", "bad \xff byte"
	write(t, st, r)
	tl, err := st.Timeline(t.Context(), "org-t", "odd-1")
	if err != nil {
		t.Fatalf("Timeline: %v", err)
	}
	d, a := tl.Rounds[0].Delivery, tl.Rounds[0].AttemptList[0]
	for _, tc := range []struct{ what, got, want string }{
		{"round excerpt", d.ResponseExcerpt, "a\uFFFDb"},
		{"round error", d.Error, "bad \uFFFD byte"},
		{"attempt excerpt", a.ResponseExcerpt, "a\uFFFDb"},
		{"attempt error", a.Error, "bad \uFFFD byte"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.what, tc.got, tc.want)
		}
	}
}

// TestWriteSupersedeInBatch: replays 0, 1 and 2 of an event in one batch,
// then a late record of replay 1: only replay 2 is the latest.
func TestWriteSupersedeInBatch(t *testing.T) {
	st, _ := fresh(t)
	q := now().Add(-5 * time.Hour)
	var recs []*envelope.AttemptRecord
	for replay := range 3 {
		r := storetest.Record("org-s", "sup-1", q.Add(time.Duration(replay)*time.Hour))
		r.Replay = replay
		recs = append(recs, r)
	}
	write(t, st, recs[2], recs[0], recs[1])
	late := *recs[1]
	late.Attempt = 2
	write(t, st, &late)
	tl, err := st.Timeline(t.Context(), "", "sup-1")
	if err != nil {
		t.Fatalf("Timeline: %v", err)
	}
	for i, rd := range tl.Rounds {
		if want := i < 2; rd.Replay != i || rd.Superseded != want {
			t.Errorf("round %d: replay %d superseded %v, want replay %d superseded %v", i, rd.Replay, rd.Superseded, i, want)
		}
	}
	if n := len(tl.Rounds[1].AttemptList); n != 2 || tl.Rounds[1].Attempts != 2 {
		t.Errorf("replay 1: %d attempts, Attempts %d; want 2, 2", n, tl.Rounds[1].Attempts)
	}
	p, err := st.Search(t.Context(), logstore.Query{OrgID: "org-s"})
	if err != nil || len(p.Deliveries) != 1 || p.Deliveries[0].Replay != 2 {
		t.Errorf("Search = %+v, %v; want replay 2 alone", p, err)
	}
}

// TestUpgradeKeepsReplays: a database holding a replay round written
// before migration 3 is upgraded at Open, and a late original of that
// event then written is marked superseded.
func TestUpgradeKeepsReplays(t *testing.T) {
	u := pgtest.Database(t)
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("migrations"), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatalf("goose: %v", err)
	}
	if _, err := p.UpTo(t.Context(), 2); err != nil {
		t.Fatalf("migrate to version 2: %v", err)
	}
	orig := storetest.Record("org-u", "upg-1", now().Add(-3*time.Hour))
	replayAt := now().Add(-time.Hour)
	day := replayAt.Format("20060102")
	conn := connect(t, u)
	for _, q := range []string{
		fmt.Sprintf(`CREATE TABLE deliveries_p%s PARTITION OF deliveries FOR VALUES FROM ('%s') TO ('%s')`,
			day, replayAt.Truncate(24*time.Hour).Format(time.RFC3339), replayAt.Truncate(24*time.Hour).Add(24*time.Hour).Format(time.RFC3339)),
		`INSERT INTO deliveries (event_id, replay, queued_at, org_id, state, final, attempts, status_code,
			response_excerpt, error_class, error, first_attempt_at, last_attempt_at)
		VALUES ('upg-1', 1, $1, 'org-u', 'delivered', true, 1, 200, 'ok', '', '', $1, $1)`,
	} {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, replayAt)
		}
		if _, err := conn.Exec(t.Context(), q, args...); err != nil {
			t.Fatalf("version 2 data: %v", err)
		}
	}
	st := open(t, u, logstore.Options{Now: now})
	write(t, st, orig)
	tl, err := st.Timeline(t.Context(), "", "upg-1")
	if err != nil {
		t.Fatalf("Timeline: %v", err)
	}
	if len(tl.Rounds) != 2 {
		t.Fatalf("Timeline has %d rounds, want 2", len(tl.Rounds))
	}
	for i, rd := range tl.Rounds {
		if want := i == 0; rd.Replay != i || rd.Superseded != want {
			t.Errorf("round %d: replay %d superseded %v, want replay %d superseded %v", i, rd.Replay, rd.Superseded, i, want)
		}
	}
}

// BenchmarkWrite writes 1000-record batches, half new events (attempt 1)
// and half the second attempt of the previous batch's events, and reports
// records per second. 200 iterations are 200k records:
//
//	go test -run - -bench Write -benchtime 200x ./internal/logstore/pgstore/
func BenchmarkWrite(b *testing.B) {
	u := pgtest.Database(b)
	st, err := pgstore.Open(b.Context(), u, logstore.Options{})
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	defer st.Close()
	const size, fresh = 1000, 500
	queued := time.Now().Add(-time.Hour)
	var prev []*envelope.AttemptRecord
	batches := make([][]*envelope.AttemptRecord, b.N)
	for i := range batches {
		batch := make([]*envelope.AttemptRecord, 0, size)
		var next []*envelope.AttemptRecord
		for j := range fresh {
			r := storetest.Record(fmt.Sprintf("org-%d", j%20), fmt.Sprintf("bench-%d-%d", i, j), queued.Add(time.Duration(i*fresh+j)*time.Millisecond))
			r.Decision, r.State, r.Final, r.StatusCode = envelope.DecisionRetry, envelope.StateRetrying, false, 503
			batch, next = append(batch, r), append(next, r)
		}
		for _, p := range prev {
			r := *p
			r.Attempt, r.Decision, r.State, r.Final, r.StatusCode = 2, envelope.DecisionDelivered, envelope.StateDelivered, true, 200
			batch = append(batch, &r)
		}
		batches[i], prev = batch, next
	}
	b.ResetTimer()
	start, n := time.Now(), 0
	for _, batch := range batches {
		if err := st.Write(b.Context(), batch); err != nil {
			b.Fatalf("Write: %v", err)
		}
		n += len(batch)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
}
