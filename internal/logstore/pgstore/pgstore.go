// Package pgstore is the PostgreSQL implementation of logstore.Store.
//
// It owns the delivery log's schema (embedded goose migrations, applied by
// Open under a session advisory lock, so several processes starting at
// once migrate once) and its daily partitions: both tables, deliveries and
// attempts, are partitioned by range of queued_at, one partition per UTC
// day (deliveries_pYYYYMMDD, attempts_pYYYYMMDD). Write creates the
// partitions it needs; Prune drops whole partitions and never deletes rows.
//
// It reads no environment and starts no goroutine of its own: the pgx pool
// is its only background activity.
package pgstore

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
)

// Store is the PostgreSQL delivery log. Its methods are safe for
// concurrent use.
type Store struct {
	pool *pgxpool.Pool
	opts logstore.Options

	// mu guards days: the UTC days whose partitions this process knows to
	// exist.
	mu   sync.Mutex
	days map[day]bool
}

var _ logstore.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// or postgresql://
// URL), checks that it answers, applies the embedded migrations, and
// returns the store. A URL of another form is an error wrapping
// logstore.ErrInvalidURL; a database migrated by a newer binary is an
// error wrapping logstore.ErrSchemaTooNew. No error contains the URL's
// password. opts.WithDefaults is applied.
func Open(ctx context.Context, url string, opts logstore.Options) (*Store, error) {
	redacted, secret, err := checkURL(url)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, redact(fmt.Errorf("pgstore: parse %s: %w", redacted, err), secret)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, redact(fmt.Errorf("pgstore: connect to %s: %w", redacted, err), secret)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, redact(fmt.Errorf("pgstore: connect to %s: %w", redacted, err), secret)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, redact(fmt.Errorf("pgstore: %s: %w", redacted, err), secret)
	}
	return &Store{pool: pool, opts: opts.WithDefaults(), days: make(map[day]bool)}, nil
}

// checkURL returns raw with its password redacted, and the password, or an
// error wrapping logstore.ErrInvalidURL when raw is not a postgres URL.
func checkURL(raw string) (redacted, secret string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		// A *url.Error quotes the whole input; pass on only its reason.
		reason := err
		if ue, ok := err.(*url.Error); ok {
			reason = ue.Err
		}
		return "", "", fmt.Errorf("%w: unparsable postgres URL: %v", logstore.ErrInvalidURL, reason)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", "", fmt.Errorf("%w: scheme %q, want postgres:// or postgresql://", logstore.ErrInvalidURL, u.Scheme)
	}
	if u.User != nil {
		secret, _ = u.User.Password()
	}
	if pw := u.Query().Get("password"); pw != "" {
		q := u.Query()
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
		if secret == "" {
			secret = pw
		}
	}
	return u.Redacted(), secret, nil
}

// redactedError is an error whose text had a password removed. It still
// unwraps to the original, for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact returns err with every occurrence of secret in its text replaced.
func redact(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), secret, "xxxxx"), err: err}
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pgstore: ping: %w", err)
	}
	return nil
}

// Close closes the store's connections; it waits for the ones in use to
// be released.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Marker reports whether the named one-time step is recorded as done.
func (s *Store) Marker(ctx context.Context, name string) (bool, error) {
	var done bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM markers WHERE name = $1)`, name).Scan(&done)
	if err != nil {
		return false, fmt.Errorf("pgstore: marker %q: %w", name, err)
	}
	return done, nil
}

// SetMarker records the named step as done; setting it again keeps the
// first time.
func (s *Store) SetMarker(ctx context.Context, name string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO markers (name, done_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
		name, logstore.Truncate(s.opts.Now()))
	if err != nil {
		return fmt.Errorf("pgstore: set marker %q: %w", name, err)
	}
	return nil
}
