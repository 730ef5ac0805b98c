package envelope

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxResponseExcerpt is the most response-body bytes kept in an outcome
// (and in the workflow block's webhook_response column).
const MaxResponseExcerpt = 2048

// Outcome states.
const (
	// StateRetrying: an attempt failed and another is scheduled (not final).
	StateRetrying = "retrying"
	// StateDelivered: an attempt got a 2xx (final).
	StateDelivered = "delivered"
	// StateUndelivered: the event is in the undelivered stream (final).
	StateUndelivered = "undelivered"
)

// HeaderFailure is the NATS header of a WEBHOOKS_UNDELIVERED message that
// carries the event's failure record (an Outcome as JSON); the message's
// body is the unchanged delivery request.
const HeaderFailure = "Sixtyfour-Failure"

// Outcome is the delivery record of one event: the latest state on
// WEBHOOKS_OUTCOMES (one message per event, the final one last) and the
// failure record carried by an undelivered event. Upstream services read it;
// for workflow runs it carries the block's three result columns.
type Outcome struct {
	// V is the format version (1).
	V int `json:"v"`
	// EventID, OrgID, Source and EventType identify the event.
	EventID   string `json:"event_id"`
	OrgID     string `json:"org_id"`
	Source    Source `json:"source"`
	EventType string `json:"event_type"`
	// TaskID is set for async jobs, RunID (and WorkflowID) for workflow runs.
	TaskID     string `json:"task_id,omitempty"`
	RunID      string `json:"run_id,omitempty"`
	WorkflowID string `json:"workflow_id,omitempty"`
	// Host is the destination host (no path or query: URLs may hold tokens).
	Host string `json:"host"`
	// State is StateRetrying, StateDelivered or StateUndelivered.
	State string `json:"state"`
	// Final is true for delivered and undelivered.
	Final bool `json:"final"`
	// Success is true only for StateDelivered.
	Success bool `json:"success"`
	// Attempts is the number of attempts made so far (the last attempt's number).
	Attempts int `json:"attempts"`
	// StatusCode is the last attempt's HTTP status; 0 when no response came.
	StatusCode int `json:"status_code"`
	// ResponseExcerpt is the start of the last response body: at most
	// MaxResponseExcerpt bytes of valid UTF-8.
	ResponseExcerpt string `json:"response_excerpt"`
	// Error describes the last failure ("HTTP 503", "timeout: ...",
	// "attempts exhausted after 6 attempts: HTTP 500"); empty when delivered.
	Error string `json:"error,omitempty"`
	// QueuedAt is when the request was stored on WEBHOOKS.
	QueuedAt time.Time `json:"queued_at"`
	// FirstAttemptAt and LastAttemptAt bound the attempts.
	FirstAttemptAt time.Time `json:"first_attempt_at,omitzero"`
	LastAttemptAt  time.Time `json:"last_attempt_at,omitzero"`
	// NextAttemptAt is when the next attempt is due (StateRetrying only).
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	// Replay counts operator replays of this event (0 for the original).
	Replay int `json:"replay,omitempty"`
	// Workflow block columns (workflow runs only, final outcomes only):
	// status code of the last attempt (0 when no response), its response
	// body excerpt, and whether the webhook was delivered.
	WebhookStatusCode *int    `json:"webhook_status_code,omitempty"`
	WebhookResponse   *string `json:"webhook_response,omitempty"`
	WebhookSuccess    *bool   `json:"webhook_success,omitempty"`
}

// SetBlockColumns fills the workflow block columns from the outcome's own
// fields; it does nothing for async jobs.
func (o *Outcome) SetBlockColumns() {
	if o.Source != SourceWorkflow || !o.Final {
		return
	}
	code, resp, ok := o.StatusCode, o.ResponseExcerpt, o.Success
	o.WebhookStatusCode, o.WebhookResponse, o.WebhookSuccess = &code, &resp, &ok
}

// Encode returns the outcome's JSON form.
func (o *Outcome) Encode() ([]byte, error) {
	b, err := marshal(o)
	if err != nil {
		return nil, fmt.Errorf("envelope: encode outcome %s: %w", o.EventID, err)
	}
	return b, nil
}

// DecodeOutcome parses an outcome record.
func DecodeOutcome(data []byte) (*Outcome, error) {
	var o Outcome
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, fmt.Errorf("%w: outcome: %v", ErrMalformed, err)
	}
	return &o, nil
}

// Excerpt cuts b to at most MaxResponseExcerpt bytes on a rune boundary and
// drops invalid UTF-8, so the result is valid UTF-8 of at most that size.
func Excerpt(b []byte) string {
	if len(b) > MaxResponseExcerpt {
		b = b[:MaxResponseExcerpt]
		// Back off a rune cut in half.
		for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
			r, size := utf8.DecodeLastRune(b)
			if r != utf8.RuneError || size != 1 {
				break
			}
			b = b[:len(b)-1]
		}
	}
	return strings.ToValidUTF8(string(b), "")
}

// OutcomeOf folds an event's attempt records (in any order, duplicates
// allowed) into its current state: the latest round (highest Replay), its
// latest attempt (highest Attempt) for the state, status, excerpt, error
// and block columns, and its earliest attempt's start as FirstAttemptAt.
// It returns nil for no records. The delivery log folds rounds the same
// way.
func OutcomeOf(recs []*AttemptRecord) *Outcome {
	var last *AttemptRecord
	for _, r := range recs {
		if last == nil || r.Replay > last.Replay || r.Replay == last.Replay && r.Attempt > last.Attempt {
			last = r
		}
	}
	if last == nil {
		return nil
	}
	o := &Outcome{
		V: 1, EventID: last.EventID, OrgID: last.OrgID, Source: last.Source, EventType: last.EventType,
		TaskID: last.TaskID, RunID: last.RunID, WorkflowID: last.WorkflowID, Host: last.Host,
		State: last.State, Final: last.Final, Success: last.State == StateDelivered, Attempts: last.Attempt,
		StatusCode: last.StatusCode, ResponseExcerpt: last.ResponseExcerpt, Error: last.Error,
		QueuedAt: last.QueuedAt, FirstAttemptAt: last.StartedAt, LastAttemptAt: last.StartedAt,
		NextAttemptAt: last.NextAttemptAt, Replay: last.Replay,
		WebhookStatusCode: last.WebhookStatusCode, WebhookResponse: last.WebhookResponse, WebhookSuccess: last.WebhookSuccess,
	}
	for _, r := range recs {
		if r.Replay == last.Replay && r.StartedAt.Before(o.FirstAttemptAt) {
			o.FirstAttemptAt = r.StartedAt
		}
	}
	return o
}
