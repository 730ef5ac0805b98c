package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/service"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
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

// historyOf returns a replay's view of the delivery log: an event's latest
// round as an outcome, or nil.
func historyOf(store logstore.Store) func(ctx context.Context, orgID, eventID string) (*envelope.Outcome, error) {
	return func(ctx context.Context, orgID, eventID string) (*envelope.Outcome, error) {
		rounds, err := store.Find(ctx, logstore.ByEventID, eventID, orgID)
		if err != nil || len(rounds) == 0 {
			return nil, err
		}
		d := rounds[len(rounds)-1]
		return &envelope.Outcome{V: 1, EventID: d.EventID, OrgID: d.OrgID, Source: d.Source, EventType: d.EventType,
			TaskID: d.TaskID, RunID: d.RunID, WorkflowID: d.WorkflowID, Host: d.Host, State: d.State, Final: d.Final,
			Success: d.State == envelope.StateDelivered, Attempts: d.Attempts, StatusCode: d.StatusCode,
			ResponseExcerpt: d.ResponseExcerpt, Error: d.Error, QueuedAt: d.QueuedAt, FirstAttemptAt: d.FirstAttemptAt,
			LastAttemptAt: d.LastAttemptAt, NextAttemptAt: d.NextAttemptAt, Replay: d.Replay,
			WebhookStatusCode: d.WebhookStatusCode, WebhookResponse: d.WebhookResponse, WebhookSuccess: d.WebhookSuccess}, nil
	}
}
