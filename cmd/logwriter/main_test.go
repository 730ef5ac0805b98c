package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/pgstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/sqlitestore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/storetest"
	"github.com/sixtyfour-oss/webhooks/internal/pgtest"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// TestMain lets a test run this binary's main as a child process.
func TestMain(m *testing.M) {
	if os.Getenv("LOGWRITER_TEST_CHILD") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// setEnv points the writer at a fresh JetStream server, with its ops
// endpoints on a free port that it returns.
func setEnv(t *testing.T) (addr string) {
	t.Helper()
	s := jstest.Server(t)
	t.Setenv("NATS_URL", s.ClientURL())
	t.Setenv("LOG_STORE_URL", "sqlite:"+filepath.Join(t.TempDir(), "deliveries.db"))
	addr = freeAddr(t)
	t.Setenv("LOG_WRITER_OPS_ADDR", addr)
	return addr
}

// runFails runs the writer, which must return an error before it serves
// its ops endpoints; it returns the error and the log.
func runFails(t *testing.T, addr string) (error, string) {
	t.Helper()
	var logs jstest.LogBuffer // the NATS connection's close handler logs after run returns
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, &logs)
	if err == nil {
		t.Fatalf("the writer ran and stopped without an error\n%s", logs.String())
	}
	if c, derr := net.Dial("tcp", addr); derr == nil {
		c.Close()
		t.Errorf("ops endpoints served at %s by a writer that failed to start", addr)
	}
	return err, logs.String()
}

func TestBadStoreURLExitsWithStatus2(t *testing.T) {
	setEnv(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "LOGWRITER_TEST_CHILD=1", "LOG_STORE_URL=mysql://root:hunter2@db/log")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit = %v, want status 2 (a configuration error)\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "LOG_STORE_URL") || strings.Contains(stderr.String(), "hunter2") {
		t.Errorf("stderr does not name LOG_STORE_URL, or shows its password:\n%s", stderr.String())
	}
}

func TestBadSettingsNameTheVariable(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"LOG_STORE_URL", "sqlite:"},
		{"LOG_STORE_URL", "postgres://"},
		{"LOG_RETENTION", "1m"},
		{"LOG_WRITER_BATCH", "0"},
		{"LOG_PRUNE_INTERVAL", "1s"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			addr := setEnv(t)
			t.Setenv(tc.name, tc.value)
			err, _ := runFails(t, addr)
			if !strings.Contains(err.Error(), tc.name) {
				t.Errorf("%s=%q: error %q does not name it", tc.name, tc.value, err)
			}
		})
	}
}

func TestUnreachableDatabase(t *testing.T) {
	addr := setEnv(t)
	t.Setenv("LOG_STORE_URL", "postgres://webhooks:s3cret@"+freeAddr(t)+"/log?sslmode=disable")
	err, logs := runFails(t, addr)
	msg := err.Error()
	if !strings.Contains(msg, "LOG_STORE_URL") || strings.Contains(msg+logs, "s3cret") {
		t.Errorf("error %q does not name LOG_STORE_URL or shows the password", msg)
	}
}

func TestSchemaNewerThanTheBinary(t *testing.T) {
	cases := map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "deliveries.db")
			s, err := sqlitestore.Open(t.Context(), path, logstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			db, err := sql.Open("sqlite", "file:"+path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, 1)`); err != nil {
				t.Fatal(err)
			}
			return "sqlite:" + path
		},
		"postgres": func(t *testing.T) string {
			u := pgtest.Database(t)
			s, err := pgstore.Open(t.Context(), u, logstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			conn, err := pgx.Connect(t.Context(), u)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			if _, err := conn.Exec(t.Context(), `INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, true)`); err != nil {
				t.Fatal(err)
			}
			return u
		},
	}
	for name, prepare := range cases {
		t.Run(name, func(t *testing.T) {
			addr := setEnv(t)
			t.Setenv("LOG_STORE_URL", prepare(t))
			err, _ := runFails(t, addr)
			if !errors.Is(err, logstore.ErrSchemaTooNew) || !strings.Contains(err.Error(), "LOG_STORE_URL") {
				t.Errorf("error = %v, want the schema-too-new error naming LOG_STORE_URL", err)
			}
		})
	}
}

// The writer stores what arrives on the attempt stream and reports its
// lag on /readyz and /metrics.
func TestWritesAndReportsLag(t *testing.T) {
	s := jstest.Server(t)
	_, js := jstest.Connect(t, s)
	path := filepath.Join(t.TempDir(), "deliveries.db")
	addr := freeAddr(t)
	t.Setenv("NATS_URL", s.ClientURL())
	t.Setenv("LOG_STORE_URL", "sqlite:"+path)
	t.Setenv("LOG_WRITER_OPS_ADDR", addr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, io.Discard) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	jstest.Eventually(t, 30*time.Second, func() bool { code, _ := get("http://" + addr + "/readyz"); return code == 200 }, "ready")

	sc := streams.Config{}.WithDefaults()
	rec := storetest.Record("org_1", "ev-1", time.Now())
	jstest.WriteAttempt(jstest.Context(t, 10*time.Second), t, js, sc, rec)
	jstest.Eventually(t, 30*time.Second, func() bool {
		_, body := get("http://" + addr + "/readyz")
		return strings.Contains(body, "written_records 1")
	}, "the record written")
	_, body := get("http://" + addr + "/readyz")
	if !strings.Contains(body, "lag_seconds ") {
		t.Errorf("/readyz lacks the lag:\n%s", body)
	}
	_, metrics := get("http://" + addr + "/metrics")
	for _, series := range []string{"webhooks_log_writer_lag_seconds_bucket", `webhooks_log_writer_records_total{result="written"} 1`} {
		if !strings.Contains(metrics, series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
