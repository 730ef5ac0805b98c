// Package sqlitestore is the embedded delivery log: logstore.Store on an
// SQLite file through the pure-Go driver modernc.org/sqlite (no cgo), so
// the quickstart and a single-host install need nothing installed.
//
// The file runs in WAL mode (readers never block the writer and the writer
// never blocks readers), with synchronous=NORMAL (in WAL mode a power loss
// may lose the last committed transactions but never corrupts the file; an
// application crash loses nothing) and immediate write transactions
// (BEGIN IMMEDIATE takes the write lock first, so two writers never
// deadlock upgrading a read lock). The writes of one Store take turns in
// the process; writers in other processes wait for the lock on a busy
// timeout of BusyTimeout. Prune deletes in small transactions so that
// writers are never held for long.
//
// The schema is the goose migrations embedded from migrations/, applied by
// Open under a lock (the write lock of a side file, PATH-migrate-lock) so
// that processes opening a new file at once migrate it once. This package
// reads no environment and starts nothing.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
)

// BusyTimeout is how long a statement waits for the write lock that
// another process (or another Store on the same file) holds before it
// fails with SQLITE_BUSY, in milliseconds.
const BusyTimeout = 10_000

// connPragmas returns the pragmas run on every new connection. busy_timeout comes first (the
// driver runs it first anyway) so that the others wait for a lock too.
// cache_size is a page cache of up to 32 MiB per connection (SQLite's
// default, 2 MiB, spills a 1000-record batch to the WAL before it
// commits) and wal_autocheckpoint lets the WAL grow to 8192 pages (32 MiB)
// before it is copied back, so that pages written by several batches are
// copied once: together a third more writes per second with random event
// ids, a tenth more with time-ordered ones.
func connPragmas() []string {
	return []string{
		"busy_timeout(" + strconv.Itoa(BusyTimeout) + ")",
		"journal_mode(WAL)",
		"synchronous(NORMAL)",
		"cache_size(-32768)",
		"wal_autocheckpoint(8192)",
	}
}

// Store is the SQLite delivery log. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
	opts logstore.Options
	// writing holds a token while a write transaction of this Store runs:
	// in-process writers queue here (honoring their context) rather than
	// on SQLite's busy handler, which polls.
	writing chan struct{}
	// pruneBatch is PruneBatch (tests make it smaller).
	pruneBatch int64
}

var _ logstore.Store = (*Store)(nil)

// Open opens (creating when missing, with its parent directory) the SQLite
// database at path, applies the embedded migrations, and returns the
// store. opts are completed with logstore.Options.WithDefaults. A
// directory that cannot be created, a file that is not an SQLite
// database, or a database migrated by a newer release (an error wrapping
// logstore.ErrSchemaTooNew, naming both versions) is an error naming
// path.
func Open(ctx context.Context, path string, opts logstore.Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlitestore: open: the database path is empty")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("sqlitestore: create the directory of %s: %w", path, err)
	}
	// The first connection (which sets WAL mode on a new file) and the
	// migrations run under the migration lock, so that processes opening
	// one new file at once neither race to set its journal mode nor
	// migrate it twice. The lock is held for milliseconds.
	unlock, err := lockMigrations(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %s: %w", path, err)
	}
	defer unlock()
	db, err := sql.Open("sqlite", dsn(path, connPragmas()...))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	// Readers may hold a few connections at once; keep them open rather
	// than paying the pragmas of a new connection on each query.
	db.SetMaxIdleConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlitestore: open %s (is it an SQLite database?): %w", path, err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlitestore: %s: %w", path, err)
	}
	return &Store{db: db, path: path, opts: opts.WithDefaults(), writing: make(chan struct{}, 1),
		pruneBatch: PruneBatch}, nil
}

// dsn returns the driver's data source name of the file at path: a file:
// URI (so that any byte of the path is escaped, not taken for a
// parameter) whose pragmas the driver runs on every new connection, and
// whose transactions begin IMMEDIATE.
func dsn(path string, pragmas ...string) string {
	q := url.Values{"_pragma": pragmas, "_txlock": {"immediate"}}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), OmitHost: true, RawQuery: q.Encode()}
	return u.String()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlitestore: ping %s: %w", s.path, err)
	}
	var one int
	if err := s.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("sqlitestore: ping %s: %w", s.path, err)
	}
	return nil
}

// Close closes the database's connections. It first runs PRAGMA optimize
// (as SQLite advises before closing a long-lived connection: it refreshes
// the planner's statistics where they are stale), best effort, for at
// most a second.
func (s *Store) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_, _ = s.db.ExecContext(ctx, `PRAGMA optimize`)
	cancel()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("sqlitestore: close %s: %w", s.path, err)
	}
	return nil
}

// Marker reports whether the named one-time step is done.
func (s *Store) Marker(ctx context.Context, name string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM markers WHERE name = ?`, name).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlitestore: marker %q: %w", name, err)
	}
	return true, nil
}

// SetMarker records the named step as done, at Options.Now; setting it
// again keeps the first time.
func (s *Store) SetMarker(ctx context.Context, name string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO markers (name, done_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`,
			name, micros(s.opts.Now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: set marker %q: %w", name, err)
	}
	return nil
}
