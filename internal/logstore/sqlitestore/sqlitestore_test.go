package sqlitestore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/sqlitestore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/storetest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// open opens a new store in a directory that Open must create.
func open(t *testing.T, opts logstore.Options) logstore.Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "log", "deliveries.db"), opts)
}

func openAt(t *testing.T, path string, opts logstore.Options) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(t.Context(), path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// TestStore runs the shared suite of every logstore.Store.
func TestStore(t *testing.T) { storetest.Run(t, open) }

// rawDB opens the file at path without the store, to look at or change it.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// versions returns goose's version rows: version → rows.
func versions(t *testing.T, path string) map[int64]int {
	t.Helper()
	rows, err := rawDB(t, path).Query(`SELECT version_id FROM goose_db_version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[int64]int{}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got[v]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// Opening a file again keeps its data and applies nothing twice.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	now := time.Now()
	rec := storetest.Record("org-re", "re-1", now.Add(-time.Hour))
	s, err := sqlitestore.Open(t.Context(), path, logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), recs(rec)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openAt(t, path, logstore.Options{})
	if _, err := s2.Timeline(t.Context(), "org-re", "re-1"); err != nil {
		t.Errorf("Timeline after reopening: %v", err)
	}
	checkVersions(t, path)
}

// migrationCount is the number of migrations in the repository: they are
// numbered from 1.
func migrationCount(t *testing.T) int {
	t.Helper()
	names, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	return len(names)
}

// checkVersions fails unless the database at path records each migration
// (and goose's version 0) once.
func checkVersions(t *testing.T, path string) {
	t.Helper()
	got, n := versions(t, path), migrationCount(t)
	ok := len(got) == n+1
	for v := range n + 1 {
		ok = ok && got[int64(v)] == 1
	}
	if !ok {
		t.Errorf("goose versions = %v, want one row each of 0 to %d", got, n)
	}
}

// Several stores opening one new file at once (as processes starting
// together do) all succeed, and the migrations are applied once.
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "d.db")
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			s, err := sqlitestore.Open(t.Context(), path, logstore.Options{})
			if err != nil {
				t.Errorf("Open %d: %v", i, err)
				return
			}
			if err := s.Ping(t.Context()); err != nil {
				t.Errorf("Ping %d: %v", i, err)
			}
			s.Close()
		})
	}
	wg.Wait()
	checkVersions(t, path)
}

// A database migrated by a newer release is refused, naming both
// versions and the path.
func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	s, err := sqlitestore.Open(t.Context(), path, logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := rawDB(t, path).Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (99, 1)`); err != nil {
		t.Fatal(err)
	}
	_, err = sqlitestore.Open(t.Context(), path, logstore.Options{})
	if !errors.Is(err, logstore.ErrSchemaTooNew) {
		t.Fatalf("Open = %v, want logstore.ErrSchemaTooNew", err)
	}
	for _, want := range []string{"version 99", fmt.Sprintf("up to %d", migrationCount(t)), path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open = %q, want it to name %q", err, want)
		}
	}
}

// A file that is not a database, or a directory that cannot be made, is
// an error naming the path; an empty path is an error.
func TestOpenBadPath(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not a database ", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, path, want string }{
		{"not a database", junk, "not a database"},
		{"directory blocked by a file", filepath.Join(blocker, "sub", "d.db"), "create the directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sqlitestore.Open(t.Context(), tc.path, logstore.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%s) = %v, want an error naming the path and %q", tc.path, err, tc.want)
			}
		})
	}
	if _, err := sqlitestore.Open(t.Context(), "", logstore.Options{}); err == nil {
		t.Errorf(`Open("") = nil error, want one`)
	}
}

// A path with the characters of a URI (the driver takes a file: URI) is
// the file of that very name.
func TestOpenOddPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir#1", "log?x=1&y=%41.db")
	s := openAt(t, path, logstore.Options{})
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at %s: %v", path, err)
	}
}

// BenchmarkWrite measures batches of 1000 new records (each its own
// round), records/s being the figure to compare: "batch" writes
// storetest.Batch (one queued_at, ids in sequence), "uuidv7" and "uuidv4"
// records of 20 organizations queued a millisecond apart with the
// time-ordered ids the publisher makes, or with random ones (which write
// all over the primary keys' indexes), and "request" the uuidv7 records
// with the request an attempt 1 records (its headers and a 1 KiB body).
func BenchmarkWrite(b *testing.B) {
	now := time.Now()
	for _, bc := range []struct {
		name  string
		batch func(i int) []*envelope.AttemptRecord
	}{
		{"batch", func(i int) []*envelope.AttemptRecord { return storetest.Batch(now, i, 1000) }},
		{"uuidv7", func(i int) []*envelope.AttemptRecord { return uuidBatch(now, i, uuid.NewV7) }},
		{"uuidv4", func(i int) []*envelope.AttemptRecord { return uuidBatch(now, i, uuid.NewRandom) }},
		{"request", func(i int) []*envelope.AttemptRecord { return withRequest(uuidBatch(now, i, uuid.NewV7)) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "d.db"), logstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var elapsed time.Duration
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				batch := bc.batch(i)
				b.StartTimer()
				start := time.Now()
				if err := s.Write(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
			}
			b.ReportMetric(float64(b.N*1000)/elapsed.Seconds(), "records/s")
		})
	}
}

// withRequest returns recs with the request headers and body that the
// deliverer records on an attempt 1 of a job of about 1 KiB.
func withRequest(recs []*envelope.AttemptRecord) []*envelope.AttemptRecord {
	body := `{"id":"evt","type":"job.completed","data":{"notes":"` + strings.Repeat("x", 960) + `"}}`
	for _, r := range recs {
		r.RequestBody = body
		r.RequestHeaders = map[string]string{
			"Content-Type": "application/json", "Content-Length": strconv.Itoa(len(body)),
			"User-Agent": "Sixtyfour-Webhooks/0.1.0", "Sixtyfour-Event-Id": r.EventID,
			"Sixtyfour-Event-Type": r.EventType, "Sixtyfour-Delivery-Attempt": "1",
			"Sixtyfour-Signature": "t=1736942400,v1=d375345f…",
		}
	}
	return recs
}

// uuidBatch returns the i-th batch of 1000 delivered records with ids
// from newID, queued a millisecond apart after now.
func uuidBatch(now time.Time, i int, newID func() (uuid.UUID, error)) []*envelope.AttemptRecord {
	out := make([]*envelope.AttemptRecord, 1000)
	for j := range out {
		id := uuid.Must(newID())
		out[j] = storetest.Record(fmt.Sprintf("org_%02d", j%20), id.String(), now.Add(time.Duration(i*1000+j)*time.Millisecond))
	}
	return out
}
