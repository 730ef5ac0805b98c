// Package status answers "what happened to this webhook?": the delivery
// status of an event, looked up by event id, task id or run id, from the
// delivery log (internal/logstore) and the WEBHOOKS_UNDELIVERED stream.
// It serves operators (cmd/webhooksctl) and upstream services (Handler, an
// HTTP endpoint mounted behind the publisher's bearer token).
//
// Every lookup is an indexed query of the log plus one direct read of the
// undelivered stream per event found. The log is written by the log writer,
// usually well under a second after each attempt. An event whose last
// round failed and that is no longer in the undelivered stream is looked
// for on WEBHOOKS, where an operator replay waits for a deliverer; after a
// replay the round before it is read from the log too.
//
// A stream that does not exist yet (a server no process has set up) holds
// nothing: it is not an error. This package only reads; it never creates or
// changes a stream and reads no environment.
package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/runresult"
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

// Status is the delivery status of one event: its latest delivery round
// (the original delivery, or the latest operator replay) from the delivery
// log, whether it is in the undelivered stream, and, after a replay, the
// round before it.
//
// A replay that is stored on WEBHOOKS but that no deliverer has attempted
// yet is reported as its own round: ReplayQueued, State "retrying",
// Attempts 0, and the failed round it replays in PreviousRound.
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
	// Attempts is the number of attempts of this round (the original
	// delivery, or replay Replay): 0 for a replay not attempted yet.
	Attempts int `json:"attempts"`
	// StatusCode is the last attempt's HTTP status; 0 when no response came.
	// JSON also carries it as last_status_code, a deprecated alias.
	StatusCode int `json:"status_code"`
	// ResponseExcerpt is the start of the last response body (<= 2,048 bytes).
	ResponseExcerpt string `json:"response_excerpt"`
	// Error describes the last failure; empty when delivered. JSON also
	// carries it as last_error, a deprecated alias.
	Error string `json:"error,omitempty"`
	// WebhookStatusCode, WebhookSuccess and WebhookResponse are the
	// workflow block's columns (pkg/runresult.Columns) of a final workflow
	// round; nil for jobs and for rounds that are not final.
	WebhookStatusCode *int    `json:"webhook_status_code,omitempty"`
	WebhookSuccess    *bool   `json:"webhook_success,omitempty"`
	WebhookResponse   *string `json:"webhook_response,omitempty"`
	// QueuedAt is when the round's request was stored on WEBHOOKS; the
	// attempt times bound its attempts (zero when none was sent).
	QueuedAt       time.Time `json:"queued_at,omitzero"`
	FirstAttemptAt time.Time `json:"first_attempt_at,omitzero"`
	LastAttemptAt  time.Time `json:"last_attempt_at,omitzero"`
	// NextAttemptAt is when the next attempt is due (retrying only).
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	// InUndelivered is true while the event is in the undelivered stream
	// (it can be replayed).
	InUndelivered bool `json:"in_undelivered"`
	// Replay is the round reported: 0 for the original delivery, n for the
	// n-th operator replay.
	Replay int `json:"replay"`
	// ReplayQueued is true when replay Replay is stored on WEBHOOKS and no
	// attempt of it is recorded yet: the event left the undelivered stream
	// and waits for a deliverer.
	ReplayQueued bool `json:"replay_queued"`
	// PreviousRound is the round before this one (set when Replay > 0 and
	// the log holds it): what the replay is retrying.
	PreviousRound *Round `json:"previous_round,omitempty"`
}

// Round sums up one earlier delivery round of an event.
type Round struct {
	// Replay is the round: 0 for the original delivery, n for replay n.
	Replay int `json:"replay"`
	// State is the round's last state: "retrying", "delivered" or "undelivered".
	State string `json:"state"`
	// Attempts is the number of the round's attempts.
	Attempts int `json:"attempts"`
	// StatusCode and Error are the round's last attempt's (0 and empty
	// without a response, or when delivered).
	StatusCode int    `json:"status_code"`
	Error      string `json:"error,omitempty"`
	// LastAttemptAt is when the round's last attempt started.
	LastAttemptAt time.Time `json:"last_attempt_at,omitzero"`
}

// MarshalJSON encodes s with its fields and the deprecated aliases
// last_status_code (= status_code) and last_error (= error) that earlier
// releases wrote, so that existing readers keep working.
func (s Status) MarshalJSON() ([]byte, error) {
	type fields Status // without this method
	return json.Marshal(struct {
		fields
		LastStatusCode int    `json:"last_status_code"`
		LastError      string `json:"last_error,omitempty"`
	}{fields(s), s.StatusCode, s.Error})
}

// fromDelivery builds a Status from a round of the delivery log.
func fromDelivery(d logstore.Delivery) Status {
	s := Status{
		EventID: d.EventID, OrgID: d.OrgID, Source: string(d.Source), EventType: d.EventType,
		TaskID: d.TaskID, RunID: d.RunID, Host: d.Host, State: d.State, Final: d.Final,
		Success: d.State == envelope.StateDelivered, Attempts: d.Attempts, StatusCode: d.StatusCode,
		ResponseExcerpt: d.ResponseExcerpt, Error: d.Error, QueuedAt: d.QueuedAt,
		FirstAttemptAt: d.FirstAttemptAt, LastAttemptAt: d.LastAttemptAt, NextAttemptAt: d.NextAttemptAt, Replay: d.Replay,
	}
	s.setBlockColumns(&envelope.Outcome{StatusCode: d.StatusCode, ResponseExcerpt: d.ResponseExcerpt, Success: s.Success,
		WebhookStatusCode: d.WebhookStatusCode, WebhookResponse: d.WebhookResponse, WebhookSuccess: d.WebhookSuccess})
	return s
}

// fromOutcome builds a Status from a failure record.
func fromOutcome(o *envelope.Outcome) Status {
	s := Status{
		EventID: o.EventID, OrgID: o.OrgID, Source: string(o.Source), EventType: o.EventType,
		TaskID: o.TaskID, RunID: o.RunID, Host: o.Host, State: o.State, Final: o.Final, Success: o.Success,
		Attempts: o.Attempts, StatusCode: o.StatusCode, ResponseExcerpt: o.ResponseExcerpt, Error: o.Error,
		QueuedAt: o.QueuedAt, FirstAttemptAt: o.FirstAttemptAt, LastAttemptAt: o.LastAttemptAt,
		NextAttemptAt: o.NextAttemptAt, Replay: o.Replay,
	}
	s.setBlockColumns(o)
	return s
}

// setBlockColumns sets the workflow block's columns of a final workflow
// round, as pkg/runresult derives them from the round's outcome o.
func (s *Status) setBlockColumns(o *envelope.Outcome) {
	s.WebhookStatusCode, s.WebhookSuccess, s.WebhookResponse = nil, nil, nil
	if s.Source != string(envelope.SourceWorkflow) || !s.Final {
		return
	}
	c := runresult.ColumnsOf(o)
	s.WebhookStatusCode, s.WebhookSuccess, s.WebhookResponse = &c.StatusCode, &c.Success, &c.Response
}

// roundOf sums up the round s reports.
func roundOf(s Status) *Round {
	return &Round{Replay: s.Replay, State: s.State, Attempts: s.Attempts, StatusCode: s.StatusCode,
		Error: s.Error, LastAttemptAt: s.LastAttemptAt}
}

// validate checks q; errors wrap ErrInvalidQuery and name the field.
func (q Query) validate() error {
	p := q.problems()
	if len(p) == 0 {
		return nil
	}
	msgs := make([]string, len(p))
	for i, f := range p {
		msgs[i] = f.Field + ": " + f.Message
	}
	return fmt.Errorf("%w: %s", ErrInvalidQuery, strings.Join(msgs, "; "))
}

// problems lists what is wrong with q, one entry per parameter.
func (q Query) problems() []envelope.FieldError {
	var p []envelope.FieldError
	selectors := []struct{ name, value string }{{"event_id", q.EventID}, {"task_id", q.TaskID}, {"run_id", q.RunID}}
	set := 0
	for _, s := range selectors {
		if s.value != "" {
			set++
		}
	}
	switch {
	case set == 0:
		p = append(p, envelope.FieldError{Field: "event_id", Message: "give one of event_id, task_id or run_id"})
	case set > 1:
		for _, s := range selectors {
			if s.value != "" {
				p = append(p, envelope.FieldError{Field: s.name, Message: "give only one of event_id, task_id or run_id"})
			}
		}
	}
	if q.EventID != "" && !envelope.ValidOrgID(q.EventID) {
		p = append(p, envelope.FieldError{Field: "event_id", Message: "must match [A-Za-z0-9_-]{1,64}"})
	}
	if q.OrgID != "" && !envelope.ValidOrgID(q.OrgID) {
		p = append(p, envelope.FieldError{Field: "org_id", Message: "must match [A-Za-z0-9_-]{1,64}"})
	}
	for _, s := range selectors[1:] {
		if len(s.value) > envelope.MaxIDLength {
			p = append(p, envelope.FieldError{Field: s.name, Message: fmt.Sprintf("must be at most %d bytes", envelope.MaxIDLength)})
		}
	}
	return p
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
