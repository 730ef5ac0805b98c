package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/pressly/goose/v3"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
)

// migrationFiles are the schema's goose migrations, NNNNN_name.sql.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrateLockWait is how long Open waits for another process that is
// migrating the same file, in milliseconds.
const migrateLockWait = 5 * 60 * 1000

// migrate applies the embedded migrations that the database lacks. The
// caller holds the migration lock (lockMigrations): of several processes
// opening a new file at once, one migrates and the others wait for it,
// then find nothing to do. A database whose version is above the newest
// embedded migration is refused with logstore.ErrSchemaTooNew, before
// anything is applied.
func migrate(ctx context.Context, db *sql.DB) error {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	sources := p.ListSources()
	known := sources[len(sources)-1].Version
	if current, ok := storedVersion(ctx, db); ok && current >= known {
		return tooNew(current, known)
	}
	// This creates goose's version table when it is missing.
	current, _, err := p.GetVersions(ctx)
	if err != nil {
		return fmt.Errorf("migrations: read the schema version: %w", err)
	}
	if err := tooNew(current, known); err != nil || current == known {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: apply up to version %d: %w", known, err)
	}
	return nil
}

// storedVersion returns the highest version in goose's version table; ok
// is false when there is none (a new file) or it cannot be read.
func storedVersion(ctx context.Context, db *sql.DB) (v int64, ok bool) {
	var max sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT max(version_id) FROM goose_db_version`).Scan(&max); err != nil {
		return 0, false
	}
	return max.Int64, max.Valid
}

// tooNew returns an error wrapping logstore.ErrSchemaTooNew when the
// database's version is above the newest this binary knows.
func tooNew(current, known int64) error {
	if current > known {
		return fmt.Errorf("%w: database version %d, this binary knows up to %d", logstore.ErrSchemaTooNew, current, known)
	}
	return nil
}

// lockMigrations takes the migration lock of the database at path and
// returns its release. The lock is the write lock of a small side file,
// path + "-migrate-lock" (an empty SQLite database): SQLite's file locks
// work across processes and the operating system drops them when a
// process dies, so a crashed migration leaves no stale lock. It waits up
// to migrateLockWait for another holder.
func lockMigrations(ctx context.Context, path string) (unlock func(), err error) {
	lockPath := path + "-migrate-lock"
	ldb, err := sql.Open("sqlite", dsn(lockPath, "busy_timeout("+strconv.Itoa(migrateLockWait)+")"))
	if err != nil {
		return nil, fmt.Errorf("migrations: open the lock %s: %w", lockPath, err)
	}
	tx, err := ldb.BeginTx(ctx, nil)
	if err != nil {
		ldb.Close()
		return nil, fmt.Errorf("migrations: take the lock %s: %w", lockPath, err)
	}
	return func() {
		tx.Rollback()
		ldb.Close()
	}, nil
}
