// Package pgtest gives tests a fresh PostgreSQL database on the real
// server named by WEBHOOKS_TEST_POSTGRES_URL (scripts/postgres.sh starts
// one; .ci/run does so). Without it the test is skipped with a message
// saying how to run it, unless WEBHOOKS_TEST_REQUIRE_POSTGRES=1 (set by
// .ci/run), which makes the absence a failure: CI never skips.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable holding the server's URL (a database the user
// may create databases from).
const EnvURL = "WEBHOOKS_TEST_POSTGRES_URL"

// EnvRequire, when "1", turns a missing server into a test failure.
const EnvRequire = "WEBHOOKS_TEST_REQUIRE_POSTGRES"

// ServerURL returns the server's URL, or skips (or fails) t without one.
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%s is required (%s=1) but unset", EnvURL, EnvRequire)
		}
		t.Skipf("no PostgreSQL: set %s (eval \"$(scripts/postgres.sh start)\") to run this test", EnvURL)
	}
	return u
}

// Database creates a new empty database for t, drops it when t ends, and
// returns its URL.
func Database(t testing.TB) string {
	t.Helper()
	server := ServerURL(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	exec(t, server, "CREATE DATABASE "+name)
	t.Cleanup(func() { exec(t, server, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("pgtest: %s: %v", EnvURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

func exec(t testing.TB, server, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}
