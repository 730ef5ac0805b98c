package config

import (
	"fmt"
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

// Validate checks the settings; errors name the variable and never show a
// password.
func (l LogStore) Validate() error {
	if _, _, err := logstore.ParseURL(l.StoreURL); err != nil {
		return fmt.Errorf("configuration: LOG_STORE_URL: %w", err)
	}
	if l.Retention < time.Hour {
		return fmt.Errorf("configuration: LOG_RETENTION = %v, want >= 1h", l.Retention)
	}
	return nil
}

// Options returns the store options for the settings.
func (l LogStore) Options() logstore.Options {
	return logstore.Options{Retention: l.Retention}
}
