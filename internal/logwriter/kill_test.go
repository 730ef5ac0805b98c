package logwriter_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/sqlitestore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/storetest"
	"github.com/sixtyfour-oss/webhooks/internal/logwriter"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// Environment of the writer process that TestWriterKilledMidBatch runs
// (this test binary, re-executed).
const (
	childNATS  = "LOGWRITER_TEST_CHILD_NATS"
	childStore = "LOGWRITER_TEST_CHILD_STORE"
)

func TestMain(m *testing.M) {
	if os.Getenv(childNATS) != "" {
		os.Exit(runChildWriter())
	}
	os.Exit(m.Run())
}

// runChildWriter is the writer process: a writer of small batches on the
// store and server its environment names, until killed.
func runChildWriter() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	nc, err := nats.Connect(os.Getenv(childNATS))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	store, err := sqlitestore.Open(ctx, os.Getenv(childStore), logstore.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer store.Close()
	w, err := logwriter.New(ctx, js, store, logwriter.Config{Batch: 50, Linger: time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := w.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// A writer process killed with SIGKILL while it writes: the writer that
// takes over stores the rest, and the store holds exactly one row per
// attempt record.
func TestWriterKilledMidBatch(t *testing.T) {
	srv, js, _ := jstest.Pipeline(t, streams.Config{AckWait: 2 * time.Second})
	sc := streams.Config{AckWait: 2 * time.Second}.WithDefaults()
	store, path := sqliteStore(t)
	var recs []*envelope.AttemptRecord
	for i := range 20 {
		recs = append(recs, storetest.Batch(time.Now(), i, 1000)...)
	}
	publishRecords(t, js, sc, recs)

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childNATS+"="+srv.ClientURL(), childStore+"="+path)
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- child.Wait() }()
	jstest.Eventually(t, 60*time.Second, func() bool { return countRows(t, path) >= 2000 }, "the child writer stores rows")
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-waited
	atKill := countRows(t, path)
	t.Logf("child killed with %d of %d rows stored", atKill, len(recs))
	if atKill >= len(recs) {
		t.Fatalf("the child stored all %d rows before the kill: the test needs more records", len(recs))
	}

	startWriter(t, js, store, logwriter.Config{Streams: sc})
	jstest.Eventually(t, 60*time.Second, func() bool { return countRows(t, path) == len(recs) }, "%d rows", len(recs))
	assertOneRowPerRecord(t, path, recs)
}

// countRows counts the attempt rows of the SQLite log at path.
func countRows(t *testing.T, path string) int {
	t.Helper()
	db := openRaw(t, path)
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM attempts`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// assertOneRowPerRecord checks that the SQLite log at path holds exactly
// one attempt row per record of recs, and nothing else.
func assertOneRowPerRecord(t *testing.T, path string, recs []*envelope.AttemptRecord) {
	t.Helper()
	db := openRaw(t, path)
	defer db.Close()
	rows, err := db.Query(`SELECT event_id, replay, attempt, count(*) FROM attempts GROUP BY event_id, replay, attempt`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := make(map[string]bool, len(recs))
	for _, r := range recs {
		want[fmt.Sprintf("%s:%d:%d", r.EventID, r.Replay, r.Attempt)] = true
	}
	got := 0
	for rows.Next() {
		var id string
		var replay, attempt, n int
		if err := rows.Scan(&id, &replay, &attempt, &n); err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("%s:%d:%d", id, replay, attempt)
		if n != 1 || !want[key] {
			t.Errorf("row %s: %d copies, published %v", key, n, want[key])
		}
		got++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got != len(recs) {
		t.Errorf("%d distinct attempt rows, want %d", got, len(recs))
	}
}

// openRaw opens the SQLite file at path for reading, beside the store.
func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// countAttemptRecords returns how many records the attempt stream holds.
func countAttemptRecords(t *testing.T, js jetstream.JetStream, sc streams.Config) int {
	t.Helper()
	ctx := jstest.Context(t, 10*time.Second)
	s, err := js.Stream(ctx, sc.WithDefaults().AttemptsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return int(info.State.Msgs)
}

// legacyOutcomesStream is WEBHOOKS_OUTCOMES as releases before the
// delivery log created it: one subject per event, its latest record.
func legacyOutcomesStream(sc streams.Config) jetstream.StreamConfig {
	return jetstream.StreamConfig{Name: sc.OutcomesStream, Subjects: []string{sc.OutcomeFilterAll()},
		Storage: jetstream.FileStorage, MaxMsgsPerSubject: 1, AllowDirect: true}
}

// pgxURL parses a PostgreSQL URL.
func pgxURL(raw string) (*url.URL, error) { return url.Parse(raw) }

func zerologNop() zerolog.Logger { return zerolog.Nop() }

// logwriterImport is the import under test.
var logwriterImport = logwriter.ImportOutcomes

// Two writers (each with its own connection pool to the file, as two
// processes) on the shared consumer split the records between them and
// the store holds each exactly once.
func TestTwoWritersStoreEachRecordOnce(t *testing.T) {
	store, path := sqliteStore(t)
	_, js, _ := jstest.Pipeline(t, streams.Config{})
	sc := streams.Config{}.WithDefaults()
	var recs []*envelope.AttemptRecord
	for i := range 5 {
		recs = append(recs, storetest.Batch(time.Now(), i, 1000)...)
	}
	other, err := sqlitestore.Open(jstest.Context(t, 10*time.Second), path, logstore.Options{}) // as a second process would
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	cfg := logwriter.Config{Streams: sc, Batch: 100}
	a, _ := startWriter(t, js, store, cfg)
	b, _ := startWriter(t, js, other, cfg)
	publishRecords(t, js, sc, recs)
	jstest.Eventually(t, 60*time.Second, func() bool { return countRows(t, path) == len(recs) }, "%d rows", len(recs))
	assertOneRowPerRecord(t, path, recs)
	t.Logf("writer a stored %d records, writer b %d", a.Status().Written, b.Status().Written)
	if a.Status().Written+b.Status().Written < uint64(len(recs)) {
		t.Errorf("writers report %d + %d records written, want at least %d", a.Status().Written, b.Status().Written, len(recs))
	}
}
