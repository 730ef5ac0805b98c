package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/service"
)

// errNoLog means LOG_STORE_URL names an SQLite file that does not exist:
// webhooksctl reads the log writer's store and never creates one.
var errNoLog = errors.New("no delivery log there")

// openLog opens the delivery log named by LOG_STORE_URL (default
// sqlite:./data/deliveries.db). An SQLite file that does not exist is an
// error wrapping errNoLog, not a new empty log.
func (c *cli) openLog() (logstore.Store, error) {
	var l config.LogStore
	if err := config.Load(&l); err != nil {
		return nil, err
	}
	if kind, path, err := logstore.ParseURL(l.StoreURL); err == nil && kind == logstore.KindSQLite {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("LOG_STORE_URL=%s: %w (set LOG_STORE_URL to the store the log writer uses)", l.StoreURL, errNoLog)
		}
	}
	return service.OpenLogStore(c.ctx, l)
}
