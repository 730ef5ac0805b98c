package pgstore_test

import (
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/storetest"
	"github.com/sixtyfour-oss/webhooks/internal/pgtest"
)

// A database written before migration 5 (no request capture, no host on
// the attempts) is upgraded at Open: its attempt reads with no request
// headers or body, and the host statistics leave it out while they count
// an attempt written after.
func TestUpgradeToRequestCapture(t *testing.T) {
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
	if _, err := p.UpTo(t.Context(), 4); err != nil {
		t.Fatalf("migrate to version 4: %v", err)
	}
	queued := now().Add(-time.Hour)
	day := queued.Truncate(24 * time.Hour)
	conn := connect(t, u)
	for _, q := range []string{
		fmt.Sprintf(`CREATE TABLE deliveries_p%s PARTITION OF deliveries FOR VALUES FROM ('%s') TO ('%s')`,
			day.Format("20060102"), day.Format(time.RFC3339), day.Add(24*time.Hour).Format(time.RFC3339)),
		fmt.Sprintf(`CREATE TABLE attempts_p%s PARTITION OF attempts FOR VALUES FROM ('%s') TO ('%s')`,
			day.Format("20060102"), day.Format(time.RFC3339), day.Add(24*time.Hour).Format(time.RFC3339)),
		`INSERT INTO deliveries (event_id, replay, queued_at, org_id, source, event_type, host, state, final, attempts,
			status_code, response_excerpt, error_class, error, first_attempt_at, last_attempt_at)
		VALUES ('old-1', 0, $1, 'org-up', 'job', 'enrich_lead', 'hooks.example.com', 'delivered', true, 1, 200, 'ok', '', '', $1, $1)`,
		`INSERT INTO attempts (event_id, replay, attempt, queued_at, org_id, started_at, finished_at, duration_ms, sent,
			status_code, response_excerpt, error_class, error, decision, retry_delay_ms)
		VALUES ('old-1', 0, 1, $1, 'org-up', $1, $1, 150, true, 200, 'ok', '', '', 'delivered', 0)`,
	} {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, queued)
		}
		if _, err := conn.Exec(t.Context(), q, args...); err != nil {
			t.Fatalf("version 4 data: %v", err)
		}
	}
	st := open(t, u, logstore.Options{Now: now})
	tl, err := st.Timeline(t.Context(), "org-up", "old-1")
	if err != nil {
		t.Fatalf("Timeline: %v", err)
	}
	a := tl.Rounds[0].AttemptList[0]
	if a.RequestHeaders != nil || a.RequestBody != "" || a.RequestBodyTruncated || a.DurationMS != 150 {
		t.Errorf("old attempt = %+v, want no request recorded", a)
	}
	fresh := storetest.Record("org-up", "new-1", queued)
	write(t, st, fresh)
	hosts, err := st.Hosts(t.Context(), "org-up", queued, now(), 0)
	if err != nil {
		t.Fatalf("Hosts: %v", err)
	}
	if len(hosts) != 1 || hosts[0].Host != fresh.Host || hosts[0].Attempts != 1 {
		t.Errorf("Hosts = %+v, want %s with the new attempt alone", hosts, fresh.Host)
	}
}

// TestWriteOddRequest: a request body or header value with what
// PostgreSQL text refuses (NUL) is stored, the body's NUL as U+FFFD, a
// header value's escaped in its JSON.
func TestWriteOddRequest(t *testing.T) {
	st, _ := fresh(t)
	r := storetest.Record("org-t", "odd-req", now().Add(-time.Hour))
	r.RequestBody, r.RequestHeaders = "a\x00b", map[string]string{"X-Odd": "c\x00d"}
	write(t, st, r)
	tl, err := st.Timeline(t.Context(), "org-t", "odd-req")
	if err != nil {
		t.Fatalf("Timeline: %v", err)
	}
	a := tl.Rounds[0].AttemptList[0]
	if a.RequestBody != "a\uFFFDb" || a.RequestHeaders["X-Odd"] != "c\x00d" {
		t.Errorf("body %q, header %q; want %q, %q", a.RequestBody, a.RequestHeaders["X-Odd"], "a\uFFFDb", "c\x00d")
	}
}
