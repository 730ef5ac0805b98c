package logstore

import (
	"context"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// History returns the function that undelivered.ReplayOptions.History
// takes: an event's latest round in store, as an outcome (nil when the log
// has no round of it), so that a replay run again after the dedupe window
// does not publish an event a second time.
func History(store Store) func(ctx context.Context, orgID, eventID string) (*envelope.Outcome, error) {
	return func(ctx context.Context, orgID, eventID string) (*envelope.Outcome, error) {
		rounds, err := store.Find(ctx, ByEventID, eventID, orgID)
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
