// Package status answers "what happened to this webhook?": the delivery
// status of an event, looked up by event id, task id or run id, from the
// delivery log (internal/logstore) and the WEBHOOKS_UNDELIVERED stream.
// It serves operators (cmd/webhooksctl) and upstream services (Handler, an
// HTTP endpoint mounted behind the publisher's bearer token).
//
// Every lookup is an indexed query of the log plus one direct read of the
// undelivered stream per event found. The log is written by the log writer,
// usually well under a second after each attempt.
//
// This package only reads; it never changes a stream and reads no
// environment.
package status

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

var (
	// ErrNotFound means no event matched the query.
	ErrNotFound = errors.New("status: no delivery status found")
	// ErrInvalidQuery means the query names none or more than one of event
	// id, task id and run id, or a value that is not acceptable.
	ErrInvalidQuery = errors.New("status: invalid query")
)

// Query selects the events to report. Exactly one of EventID, TaskID and
// RunID is set; OrgID optionally narrows any of them to one organization.
type Query struct {
	// EventID selects one event ([A-Za-z0-9_-]{1,64}; UUIDs in practice).
	EventID string
	// TaskID selects the async-job events of a task (one per publish).
	TaskID string
	// RunID selects the workflow events of a run.
	RunID string
	// OrgID narrows the query to one organization. Optional.
	OrgID string
}

// Status is the delivery status of one event: its latest outcome record,
// and whether it is currently in the undelivered stream.
type Status struct {
	// EventID, OrgID, Source ("job" or "workflow") and EventType identify
	// the event; TaskID (jobs) or RunID (workflow runs) name its origin.
	EventID   string `json:"event_id"`
	OrgID     string `json:"org_id"`
	Source    string `json:"source"`
	EventType string `json:"event_type"`
	TaskID    string `json:"task_id,omitempty"`
	RunID     string `json:"run_id,omitempty"`
	// Host is the destination host (never the path or query).
	Host string `json:"host,omitempty"`
	// State is "retrying", "delivered" or "undelivered".
	State string `json:"state"`
	// Final is true for delivered and undelivered; Success only for delivered.
	Final   bool `json:"final"`
	Success bool `json:"success"`
	// Attempts is the number of attempts of the latest delivery (or replay).
	Attempts int `json:"attempts"`
	// LastStatusCode is the last attempt's HTTP status; 0 when no response came.
	LastStatusCode int `json:"last_status_code"`
	// ResponseExcerpt is the start of the last response body (<= 2,048 bytes).
	ResponseExcerpt string `json:"response_excerpt"`
	// LastError describes the last failure; empty when delivered.
	LastError string `json:"last_error,omitempty"`
	// QueuedAt is when the request was stored on WEBHOOKS; the attempt
	// times bound the attempts (zero when none was sent).
	QueuedAt       time.Time `json:"queued_at,omitzero"`
	FirstAttemptAt time.Time `json:"first_attempt_at,omitzero"`
	LastAttemptAt  time.Time `json:"last_attempt_at,omitzero"`
	// NextAttemptAt is when the next attempt is due (retrying only).
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	// InUndelivered is true while the event is in the undelivered stream
	// (it can be replayed).
	InUndelivered bool `json:"in_undelivered"`
	// Replay counts the operator replays behind this status (0: original).
	Replay int `json:"replay"`
}

// fromDelivery builds a Status from a round of the delivery log.
func fromDelivery(d logstore.Delivery) Status {
	s := Status{
		EventID: d.EventID, OrgID: d.OrgID, Source: string(d.Source), EventType: d.EventType,
		TaskID: d.TaskID, RunID: d.RunID, Host: d.Host, State: d.State, Final: d.Final,
		Success: d.State == envelope.StateDelivered, Attempts: d.Attempts, LastStatusCode: d.StatusCode,
		ResponseExcerpt: d.ResponseExcerpt, LastError: d.Error, QueuedAt: d.QueuedAt,
		FirstAttemptAt: d.FirstAttemptAt, LastAttemptAt: d.LastAttemptAt, NextAttemptAt: d.NextAttemptAt, Replay: d.Replay,
	}
	return s
}

// fromOutcome builds a Status from a failure record.
func fromOutcome(o *envelope.Outcome) Status {
	return Status{
		EventID: o.EventID, OrgID: o.OrgID, Source: string(o.Source), EventType: o.EventType,
		TaskID: o.TaskID, RunID: o.RunID, Host: o.Host, State: o.State, Final: o.Final, Success: o.Success,
		Attempts: o.Attempts, LastStatusCode: o.StatusCode, ResponseExcerpt: o.ResponseExcerpt, LastError: o.Error,
		QueuedAt: o.QueuedAt, FirstAttemptAt: o.FirstAttemptAt, LastAttemptAt: o.LastAttemptAt,
		NextAttemptAt: o.NextAttemptAt, Replay: o.Replay,
	}
}

// validate checks q; errors wrap ErrInvalidQuery and name the field.
func (q Query) validate() error {
	set := 0
	for _, v := range []string{q.EventID, q.TaskID, q.RunID} {
		if v != "" {
			set++
		}
	}
	switch {
	case set == 0:
		return fmt.Errorf("%w: give one of event_id, task_id or run_id", ErrInvalidQuery)
	case set > 1:
		return fmt.Errorf("%w: give only one of event_id, task_id or run_id", ErrInvalidQuery)
	case q.EventID != "" && !envelope.ValidOrgID(q.EventID):
		return fmt.Errorf("%w: event_id must match [A-Za-z0-9_-]{1,64}", ErrInvalidQuery)
	case q.OrgID != "" && !envelope.ValidOrgID(q.OrgID):
		return fmt.Errorf("%w: org_id must match [A-Za-z0-9_-]{1,64}", ErrInvalidQuery)
	case len(q.TaskID) > envelope.MaxIDLength || len(q.RunID) > envelope.MaxIDLength:
		return fmt.Errorf("%w: task_id and run_id are at most %d bytes", ErrInvalidQuery, envelope.MaxIDLength)
	}
	return nil
}

// Lookup returns the status of the events q selects, oldest first, from
// the delivery log (store) and the undelivered stream. Errors wrap
// ErrInvalidQuery, ErrNotFound (nothing matched), or the store's or
// JetStream's error.
func Lookup(ctx context.Context, store logstore.Store, js jetstream.JetStream, sc streams.Config, q Query) ([]Status, error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	l, err := newLookup(ctx, store, js, sc.WithDefaults())
	if err != nil {
		return nil, err
	}
	out, err := l.find(ctx, q)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return out, nil
}
