package sqlitestore_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/storetest"
)

// A file written before migration 4 (no request capture, no host on the
// attempts) is upgraded at Open: its attempt reads with no request
// headers or body, and the host statistics leave it out while they count
// an attempt written after.
func TestUpgradeToRequestCapture(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	db := rawDB(t, path)
	p, err := goose.NewProvider(goose.DialectSQLite3, db, os.DirFS("migrations"), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(t.Context(), 3); err != nil {
		t.Fatalf("migrate to version 3: %v", err)
	}
	queued := fixed().Add(-time.Hour)
	started := queued.Add(2 * time.Second)
	q, s := queued.UnixMicro(), started.UnixMicro()
	for _, stmt := range []string{
		`INSERT INTO deliveries (event_id, replay, queued_at, org_id, source, event_type, host, state, final, attempts,
			status_code, response_excerpt, error_class, error, first_attempt_at, last_attempt_at)
		VALUES ('old-1', 0, ?1, 'org-up', 'job', 'enrich_lead', 'hooks.example.com', 'delivered', 1, 1, 200, 'ok', '', '', ?2, ?2)`,
		`INSERT INTO attempts (event_id, replay, attempt, queued_at, org_id, started_at, finished_at, duration_ms, sent,
			status_code, response_excerpt, error_class, error, decision, retry_delay_ms)
		VALUES ('old-1', 0, 1, ?1, 'org-up', ?2, ?2, 150, 1, 200, 'ok', '', '', 'delivered', 0)`,
	} {
		if _, err := db.Exec(stmt, q, s); err != nil {
			t.Fatalf("version 3 data: %v", err)
		}
	}
	st := openAt(t, path, logstore.Options{Now: fixed})
	checkVersions(t, path)
	tl, err := st.Timeline(t.Context(), "org-up", "old-1")
	if err != nil {
		t.Fatal(err)
	}
	a := tl.Rounds[0].AttemptList[0]
	if a.RequestHeaders != nil || a.RequestBody != "" || a.RequestBodyTruncated || a.DurationMS != 150 {
		t.Errorf("old attempt = %+v, want no request recorded", a)
	}
	fresh := storetest.Record("org-up", "new-1", queued)
	write(t, st, fresh)
	hosts, err := st.Hosts(t.Context(), "org-up", queued, fixed(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 1 || hosts[0].Host != fresh.Host || hosts[0].Attempts != 1 {
		t.Errorf("Hosts = %+v, want %s with the new attempt alone", hosts, fresh.Host)
	}
}
