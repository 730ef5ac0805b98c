// Package storeurl opens the delivery log named by a LOG_STORE_URL:
// "sqlite:PATH" (the embedded default, a file created when missing) or
// "postgres://..." / "postgresql://..." (a PostgreSQL server). It is the one
// place that knows both implementations.
package storeurl

import (
	"context"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/pgstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/sqlitestore"
)

// Open opens the store raw names (see logstore.ParseURL), applying its migrations.
func Open(ctx context.Context, raw string, opts logstore.Options) (logstore.Store, error) {
	kind, target, err := logstore.ParseURL(raw)
	if err != nil {
		return nil, err
	}
	if kind == logstore.KindSQLite {
		return sqlitestore.Open(ctx, target, opts)
	}
	return pgstore.Open(ctx, target, opts)
}
