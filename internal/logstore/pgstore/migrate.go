package pgstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
)

// migrationFiles are the schema's goose migrations, NNNNN_name.sql.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate applies the embedded migrations that the database lacks. An
// up-to-date database costs one query and takes no lock. Otherwise the
// migrations run under goose's session advisory lock: of several
// processes opening the store at once, one migrates and the others wait
// for it (trying the lock again every second, for up to five minutes) and
// then find nothing to do. A database whose version is above the newest
// embedded migration is refused with logstore.ErrSchemaTooNew, before
// anything is applied.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("migrations: lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	current, known, err := p.GetVersions(ctx)
	if err == nil && current == known {
		return nil
	}
	if err == nil {
		if err := tooNew(current, known); err != nil {
			return err
		}
	}
	// Not migrated yet, or the version table is being created by another
	// process: migrate under the lock, which reads the versions again.
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: apply up to version %d: %w", known, err)
	}
	// Check again: a newer binary may have migrated while this one waited.
	current, known, err = p.GetVersions(ctx)
	if err != nil {
		return fmt.Errorf("migrations: read the schema version: %w", err)
	}
	return tooNew(current, known)
}

// tooNew returns an error wrapping logstore.ErrSchemaTooNew when the
// database's version is above the newest this binary knows.
func tooNew(current, known int64) error {
	if current > known {
		return fmt.Errorf("%w: database version %d, this binary knows up to %d", logstore.ErrSchemaTooNew, current, known)
	}
	return nil
}
