package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/pgstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/storetest"
	"github.com/sixtyfour-oss/webhooks/internal/pgtest"
)

// TestStore runs the shared suite, each store on a new database.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts logstore.Options) logstore.Store {
		return open(t, pgtest.Database(t), opts)
	})
}

// open opens the store at url and closes it when t ends.
func open(t testing.TB, url string, opts logstore.Options) *pgstore.Store {
	t.Helper()
	st, err := pgstore.Open(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// now is the clock of these tests: 2026-12-06 12:00 UTC.
func now() time.Time { return time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC) }

// fresh opens a store on a new database, on the fixed clock, and returns
// it with the database's URL.
func fresh(t *testing.T) (*pgstore.Store, string) {
	t.Helper()
	url := pgtest.Database(t)
	return open(t, url, logstore.Options{Now: now}), url
}

// connect opens a plain connection to url, closed when t ends.
func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// relations returns the tables and partitions whose name matches the LIKE
// pattern, sorted.
func relations(t testing.TB, conn *pgx.Conn, like string) []string {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT relname::text FROM pg_class WHERE relkind IN ('r', 'p') AND relname LIKE $1 ORDER BY relname`, like)
	if err != nil {
		t.Fatalf("list relations: %v", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("list relations: %v", err)
	}
	return names
}

// checkGone reports each event whose timeline is not ErrNotFound.
func checkGone(t *testing.T, st logstore.Store, eventIDs ...string) {
	t.Helper()
	for _, id := range eventIDs {
		if tl, err := st.Timeline(t.Context(), "", id); !errors.Is(err, logstore.ErrNotFound) {
			t.Errorf("Timeline(%s) = %v, %v; want ErrNotFound", id, tl, err)
		}
	}
}

// checkThere reports each event that has no timeline.
func checkThere(t *testing.T, st logstore.Store, eventIDs ...string) {
	t.Helper()
	for _, id := range eventIDs {
		if _, err := st.Timeline(t.Context(), "", id); err != nil {
			t.Errorf("Timeline(%s): %v", id, err)
		}
	}
}
