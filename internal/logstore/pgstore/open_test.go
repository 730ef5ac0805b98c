package pgstore_test

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/pgstore"
	"github.com/sixtyfour-oss/webhooks/internal/pgtest"
)

// TestOpenTwice: a second Open of a migrated database applies nothing and
// works.
func TestOpenTwice(t *testing.T) {
	st, u := fresh(t)
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st = open(t, u, logstore.Options{Now: now})
	if err := st.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	checkVersions(t, u, append([]int64{0}, migrationVersions(t)...))
}

// TestOpenConcurrently: stores opened at once on a new database migrate it
// once, and all open.
func TestOpenConcurrently(t *testing.T) {
	u := pgtest.Database(t)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			st, err := pgstore.Open(t.Context(), u, logstore.Options{Now: now})
			if err != nil {
				t.Errorf("Open: %v", err)
				return
			}
			_ = st.Close()
		})
	}
	wg.Wait()
	checkVersions(t, u, append([]int64{0}, migrationVersions(t)...))
}

// migrationVersions returns the versions of the migrations in the
// repository, in order.
func migrationVersions(t *testing.T) []int64 {
	t.Helper()
	names, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("list migrations: %v (%d found)", err, len(names))
	}
	var vs []int64
	for _, name := range names {
		v, err := strconv.ParseInt(strings.SplitN(filepath.Base(name), "_", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("migration %s: version: %v", name, err)
		}
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

// checkVersions reports the applied goose versions of the database at u
// unless they are want.
func checkVersions(t *testing.T, u string, want []int64) {
	t.Helper()
	rows, err := connect(t, u).Query(t.Context(), `SELECT version_id FROM goose_db_version WHERE is_applied ORDER BY id`)
	if err != nil {
		t.Fatalf("read goose_db_version: %v", err)
	}
	var got []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatalf("read goose_db_version: %v", err)
		}
		got = append(got, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read goose_db_version: %v", err)
	}
	if len(got) != len(want) || got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
		t.Errorf("applied versions = %v, want %v (each applied once)", got, want)
	}
}

// TestSchemaTooNew: a database migrated by a newer binary is refused,
// naming both versions.
func TestSchemaTooNew(t *testing.T) {
	st, u := fresh(t)
	_ = st.Close()
	if _, err := connect(t, u).Exec(t.Context(), `INSERT INTO goose_db_version (version_id, is_applied) VALUES (42, true)`); err != nil {
		t.Fatalf("bump goose_db_version: %v", err)
	}
	_, err := pgstore.Open(t.Context(), u, logstore.Options{Now: now})
	if !errors.Is(err, logstore.ErrSchemaTooNew) {
		t.Fatalf("Open = %v, want an error wrapping logstore.ErrSchemaTooNew", err)
	}
	vs := migrationVersions(t)
	known := fmt.Sprintf("up to %d", vs[len(vs)-1])
	if msg := err.Error(); !strings.Contains(msg, "version 42") || !strings.Contains(msg, known) {
		t.Errorf("Open error %q does not name both versions (42, %s)", msg, known)
	}
}

// TestOpenErrors: a bad URL, an unreachable server and a refused password
// are clear errors that never hold the password.
func TestOpenErrors(t *testing.T) {
	server, err := url.Parse(pgtest.ServerURL(t))
	if err != nil {
		t.Fatalf("server URL: %v", err)
	}
	const secret = "s3cret-Pa55word"
	withPassword := func(u url.URL, pw string) string {
		u.User = url.UserPassword(u.User.Username(), pw)
		return u.String()
	}
	refused := *server
	refused.Host = closedPort(t)
	for _, tc := range []struct {
		name, url string
		is        error
		says      string
	}{
		{"other scheme", "mysql://u:" + secret + "@localhost/db", logstore.ErrInvalidURL, "scheme"},
		{"bad port", "postgres://u:" + secret + "@localhost:notaport/db", logstore.ErrInvalidURL, "unparsable"},
		{"unreachable", withPassword(refused, secret), nil, "connect"},
		{"wrong password", withPassword(*server, secret), nil, "password authentication failed"},
		{"password in the query", "postgres://u@" + refused.Host + "/db?password=" + secret, nil, "connect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := pgstore.Open(t.Context(), tc.url, logstore.Options{})
			if err == nil {
				_ = st.Close()
				t.Fatalf("Open(%s) = nil error, want one", tc.name)
			}
			msg := err.Error()
			if strings.Contains(msg, secret) {
				t.Errorf("Open error holds the password: %s", msg)
			}
			if !strings.Contains(msg, tc.says) {
				t.Errorf("Open error %q does not say %q", msg, tc.says)
			}
			if testing.Verbose() {
				t.Log(msg)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Open error %v does not wrap %v", err, tc.is)
			}
		})
	}
}

// closedPort returns a local address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}
