package config

import (
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
)

// LogStore holds the settings of the delivery log, read by every command
// that writes or reads it (log writer, publisher, webhooksctl, quickstart).
type LogStore struct {
	// StoreURL chooses the store: sqlite:PATH (embedded, the default) or
	// postgres://user:password@host:port/db.
	StoreURL string `envconfig:"LOG_STORE_URL" default:"sqlite:./data/deliveries.db"`
	// Retention is how long rounds are kept, from their queued time.
	Retention time.Duration `envconfig:"LOG_RETENTION" default:"336h"`
}

// Validate checks the settings and returns every problem at once; errors
// name the variable and never show a password.
func (l LogStore) Validate() error {
	var p []error
	if _, _, err := logstore.ParseURL(l.StoreURL); err != nil {
		p = append(p, Bad("LOG_STORE_URL", "%w", err))
	}
	if l.Retention < time.Hour {
		p = append(p, Bad("LOG_RETENTION", "got %v, want >= 1h", l.Retention))
	}
	return Check(p...)
}

// Options returns the store options for the settings.
func (l LogStore) Options() logstore.Options {
	return logstore.Options{Retention: l.Retention}
}
