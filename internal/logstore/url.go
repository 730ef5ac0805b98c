package logstore

import (
	"fmt"
	"net/url"
	"strings"
)

// DefaultURL is the store used when LOG_STORE_URL is not set: an SQLite file
// under the working directory.
const DefaultURL = "sqlite:./data/deliveries.db"

// Kinds of store, as ParseURL returns them.
const (
	KindSQLite   = "sqlite"
	KindPostgres = "postgres"
)

// ParseURL checks raw and returns the kind of store and its target (the
// SQLite path, or the PostgreSQL URL). Errors wrap ErrInvalidURL
// and never contain a password.
func ParseURL(raw string) (kind, target string, err error) {
	switch {
	case strings.HasPrefix(raw, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(raw, "sqlite:"), "//")
		if path == "" {
			return "", "", fmt.Errorf("%w: %q names no file; use sqlite:PATH, e.g. %s", ErrInvalidURL, raw, DefaultURL)
		}
		return KindSQLite, path, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		u, err := url.Parse(raw)
		if err != nil {
			return "", "", fmt.Errorf("%w: not a URL: %s", ErrInvalidURL, Redact(raw))
		}
		if u.Host == "" {
			return "", "", fmt.Errorf("%w: %s names no host", ErrInvalidURL, Redact(raw))
		}
		return KindPostgres, raw, nil
	}
	return "", "", fmt.Errorf("%w: %q: want sqlite:PATH or postgres://user:password@host:port/db", ErrInvalidURL, Redact(raw))
}

// Redact returns raw with any password replaced by "xxxxx", for logs and
// errors.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if i := strings.Index(raw, "@"); i >= 0 && strings.Contains(raw[:i], "://") {
			return raw[:strings.Index(raw, "://")+3] + "xxxxx" + raw[i:]
		}
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
