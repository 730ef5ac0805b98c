package envelope

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// Decisions of an attempt record: what the deliverer did after the attempt.
const (
	// DecisionDelivered: the attempt got a 2xx; the event is delivered.
	DecisionDelivered = "delivered"
	// DecisionRetry: the attempt failed and another one is scheduled
	// after RetryDelayMS.
	DecisionRetry = "retry"
	// DecisionUndelivered: the attempts are exhausted or the failure is
	// terminal; the event is in the undelivered stream.
	DecisionUndelivered = "undelivered"
)

// MaxRecordedBody is the most request-body bytes an attempt record keeps
// (RequestBody): 64 KiB, enough for the bodies of almost every event, and
// small enough that a record stays far below the streams' message limit.
const MaxRecordedBody = 65536

// HeaderRecordEventID is the NATS header of a record on the attempt stream
// that carries its event id, so readers can skip other events' records
// without decoding them.
const HeaderRecordEventID = "Sixtyfour-Event-Id"

// AttemptRecord is the append-only record of one attempt of one event: the
// deliverer publishes one per delivery of a message to the attempt stream
// (WEBHOOKS_ATTEMPTS), and the log writer stores it. The record of the
// last attempt is also the event's final state (Final true).
type AttemptRecord struct {
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
	// Replay counts operator replays of the event (0 for the original
	// delivery); each replay is a new delivery round with its own attempts.
	Replay int `json:"replay"`
	// Attempt is the attempt's number within its round, from 1.
	Attempt int `json:"attempt"`
	// QueuedAt is when the round's request was stored on WEBHOOKS; it is
	// the same on every attempt of a round.
	QueuedAt time.Time `json:"queued_at"`
	// StartedAt and FinishedAt bound the attempt; DurationMS is the time
	// the HTTP exchange took (0 when nothing was sent).
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	DurationMS float64   `json:"duration_ms"`
	// Sent is false when no request went out (signing secret unusable,
	// invalid request, open circuit, attempts already spent).
	Sent bool `json:"sent"`
	// StatusCode is the HTTP status; 0 when no response came.
	StatusCode int `json:"status_code"`
	// ResponseExcerpt is the start of the response body: at most
	// MaxResponseExcerpt bytes of valid UTF-8.
	ResponseExcerpt string `json:"response_excerpt"`
	// ErrorClass classifies a failed attempt: "response" (a non-2xx
	// answer), "timeout", "connection", "tls", "signing_unavailable",
	// "refused" or "invalid_request"; empty when delivered.
	ErrorClass string `json:"error_class,omitempty"`
	// Error describes the failure; empty when delivered.
	Error string `json:"error,omitempty"`
	// Decision is DecisionDelivered, DecisionRetry or DecisionUndelivered.
	Decision string `json:"decision"`
	// RetryDelayMS is the delay before the next attempt (DecisionRetry only).
	RetryDelayMS int64 `json:"retry_delay_ms,omitempty"`
	// RetryDelayFrom says what set that delay (DecisionRetry only):
	// "schedule", "retry_after" (the receiver's Retry-After header on a 429
	// or 503, longer than the schedule's delay) or "retry_after_cap" (it
	// asked for more than the deliverer's cap, which was used).
	RetryDelayFrom string `json:"retry_delay_from,omitempty"`
	// NextAttemptAt is when the next attempt is due (DecisionRetry only).
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	// RequestHeaders are the header fields the attempt's request was sent
	// with: names canonical, one value each (repeated values joined with
	// ", "), Content-Length included; Host and the headers the HTTP
	// transport adds on its own are not. The signature is shortened so
	// that the record never holds a full HMAC: each v1 keeps its first 8
	// characters, then "…" (t=1700000000,v1=d375345f…). Authorization is
	// never recorded. Nil when nothing was sent.
	RequestHeaders map[string]string `json:"request_headers,omitempty"`
	// RequestBody is the body the attempt sent, as valid UTF-8 of at most
	// MaxRecordedBody bytes, cut on a rune boundary when longer
	// (RequestBodyTruncated is then true). It is recorded on attempt 1 of a
	// round only, "" on the others: the attempts of a round send the same
	// payload (a workflow run's body differs only in its attempt,
	// completed_at and a freshly signed results_download_url). "" when
	// nothing was sent.
	RequestBody          string `json:"request_body,omitempty"`
	RequestBodyTruncated bool   `json:"request_body_truncated,omitempty"`
	// State is the event's state after the attempt: StateRetrying,
	// StateDelivered or StateUndelivered; Final is true for the last two.
	State string `json:"state"`
	Final bool   `json:"final"`
	// Workflow block columns (workflow runs, final records only): this
	// attempt's status code, response excerpt, and whether it delivered.
	WebhookStatusCode *int    `json:"webhook_status_code,omitempty"`
	WebhookResponse   *string `json:"webhook_response,omitempty"`
	WebhookSuccess    *bool   `json:"webhook_success,omitempty"`
}

// StateOf returns the event state that follows a decision ("" for an
// unknown decision).
func StateOf(decision string) string {
	switch decision {
	case DecisionDelivered:
		return StateDelivered
	case DecisionRetry:
		return StateRetrying
	case DecisionUndelivered:
		return StateUndelivered
	}
	return ""
}

// SetBlockColumns fills the workflow block columns of a final workflow
// record from its own fields; it does nothing otherwise.
func (r *AttemptRecord) SetBlockColumns() {
	if r.Source != SourceWorkflow || !r.Final {
		return
	}
	code, resp, ok := r.StatusCode, r.ResponseExcerpt, r.State == StateDelivered
	r.WebhookStatusCode, r.WebhookResponse, r.WebhookSuccess = &code, &resp, &ok
}

// Encode returns the record's JSON form, as AppendJSON writes it, in a
// buffer of its own: one allocation, of the record's size, for all but
// records that escape much of their text. Like encoding/json it refuses
// a NaN or infinite DurationMS and a time that has no RFC 3339 form (a
// year outside 0 to 9999, a zone offset of 24 hours or more); the error
// names the field.
func (r *AttemptRecord) Encode() ([]byte, error) {
	if err := r.encodable(); err != nil {
		return nil, fmt.Errorf("envelope: encode attempt record %s: %w", r.EventID, err)
	}
	if hint := r.encodedSizeHint(); hint > stackRecordBuffer {
		return r.AppendJSON(make([]byte, 0, hint)), nil
	}
	// Most records fit in a buffer on the stack and are then copied to
	// one of their exact size: a single allocation, of the fewest bytes
	// (a record that outgrows the buffer costs one more).
	var buf [stackRecordBuffer]byte
	return bytes.Clone(r.AppendJSON(buf[:0])), nil
}

// stackRecordBuffer is the size of the buffer on the stack that Encode
// writes a record into when encodedSizeHint says it fits.
const stackRecordBuffer = 4096

// DecodeAttemptRecord parses and checks an attempt record: unknown fields,
// a version other than 1, a missing identity, an attempt below 1, an
// unknown decision or a state that does not follow from it are errors
// wrapping ErrMalformed.
func DecodeAttemptRecord(data []byte) (*AttemptRecord, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r AttemptRecord
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: attempt record: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: attempt record: data after the JSON object", ErrMalformed)
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("%w: attempt record %q: %v", ErrMalformed, r.EventID, err)
	}
	return &r, nil
}

// check validates a decoded record.
func (r *AttemptRecord) check() error {
	switch {
	case r.V != 1:
		return fmt.Errorf("v = %d, want 1", r.V)
	case !ValidOrgID(r.EventID):
		return fmt.Errorf("event_id must match [A-Za-z0-9_-]{1,64}")
	case !ValidOrgID(r.OrgID):
		return fmt.Errorf("org_id must match [A-Za-z0-9_-]{1,64}")
	case !ValidOrgID(string(r.Source)):
		return fmt.Errorf("source must match [A-Za-z0-9_-]{1,64}")
	case r.Attempt < 1 || r.Replay < 0:
		return fmt.Errorf("attempt %d, replay %d: want attempt >= 1, replay >= 0", r.Attempt, r.Replay)
	case StateOf(r.Decision) == "":
		return fmt.Errorf("decision %q is not delivered, retry or undelivered", r.Decision)
	case r.State != StateOf(r.Decision) || r.Final != (r.State != StateRetrying):
		return fmt.Errorf("state %q (final %v) does not follow from decision %q", r.State, r.Final, r.Decision)
	case r.QueuedAt.IsZero():
		return fmt.Errorf("queued_at is missing")
	case len(r.ResponseExcerpt) > MaxResponseExcerpt || !utf8.ValidString(r.ResponseExcerpt):
		return fmt.Errorf("response_excerpt is not valid UTF-8 of at most %d bytes", MaxResponseExcerpt)
	case len(r.RequestBody) > MaxRecordedBody || !utf8.ValidString(r.RequestBody):
		return fmt.Errorf("request_body is not valid UTF-8 of at most %d bytes", MaxRecordedBody)
	case len(r.TaskID) > MaxIDLength || len(r.RunID) > MaxIDLength || len(r.WorkflowID) > MaxIDLength:
		return fmt.Errorf("task_id, run_id and workflow_id are at most %d bytes", MaxIDLength)
	}
	return nil
}
