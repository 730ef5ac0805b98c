// Package logstore owns the delivery log: the interface of the store that
// keeps every attempt of every event (Store), the rows it returns, its
// search query and cursor, and Open, which picks the implementation from
// a LOG_STORE_URL (sqlite:PATH or postgres://...). The implementations live
// in sub-packages (sqlitestore, pgstore) and pass the one shared suite in
// logstore/storetest.
//
// The store holds two tables. attempts: one row per attempt, keyed by
// (event_id, replay, attempt), written once. deliveries: one row per
// delivery round of an event (event_id, replay), holding the round's
// latest state; a row is superseded when a later replay of the event is
// recorded, and searches skip superseded rows. Writes are idempotent: a
// batch written twice (a writer that died before it acked) changes
// nothing.
//
// This package reads no environment and starts nothing.
package logstore

import (
	"context"
	"errors"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// Limits of a search.
const (
	// DefaultLimit is the page size of a search that gives none.
	DefaultLimit = 50
	// MaxLimit is the largest page a search may ask for.
	MaxLimit = 500
	// MaxFindResults bounds the rounds Find returns.
	MaxFindResults = 1000
)

var (
	// ErrNotFound means no event matched.
	ErrNotFound = errors.New("logstore: not found")
	// ErrInvalidQuery wraps every query validation error; see FieldError.
	ErrInvalidQuery = errors.New("logstore: invalid query")
	// ErrSchemaTooNew means the database holds a schema version that this
	// binary does not know: a newer release migrated it.
	ErrSchemaTooNew = errors.New("logstore: the database schema is newer than this binary")
	// ErrInvalidURL means LOG_STORE_URL is not sqlite:PATH or postgres://...
	ErrInvalidURL = errors.New("logstore: invalid store URL")
)

// Store is the delivery log. Every method is safe for concurrent use; the
// context bounds each round trip.
type Store interface {
	// Write stores a batch of attempt records in one transaction: all or
	// nothing. It is idempotent: records already stored change nothing,
	// and a round's state only moves to a later attempt (or replay).
	// Records older than the retention may be skipped.
	Write(ctx context.Context, recs []*envelope.AttemptRecord) error
	// Timeline returns every round of one event with its attempts, oldest
	// first. orgID "" matches any organization; otherwise an event of
	// another organization is ErrNotFound.
	Timeline(ctx context.Context, orgID, eventID string) (*Timeline, error)
	// Search returns one page of the latest rounds that match q, newest
	// first, in the stable order (queued_at, event_id, replay) descending.
	// Errors wrap ErrInvalidQuery for a bad query or cursor.
	Search(ctx context.Context, q Query) (*Page, error)
	// Counts returns the number of latest rounds per state whose queued_at
	// is in [from, to); orgID "" counts every organization.
	Counts(ctx context.Context, orgID string, from, to time.Time) (map[string]int64, error)
	// Find returns the latest round of every event that matches by, oldest
	// first, at most MaxFindResults; orgID "" matches any organization.
	// Nothing matched is an empty slice, not an error.
	Find(ctx context.Context, by FindBy, id, orgID string) ([]Delivery, error)
	// Hosts returns the statistics of each destination host over the
	// attempts whose started_at is in [from, to) (a zero bound leaves that
	// side open), slowest first (by AvgDurationMS descending, then host),
	// at most limit (1..MaxHostsLimit; 0 means DefaultHostsLimit); orgID
	// "" covers every organization. Attempts without a host (a request
	// that could not be decoded) are left out, and so are those stored
	// before attempts recorded their host. Errors wrap ErrInvalidQuery for
	// a bad argument (see CheckHosts). Nothing in the window is an empty
	// slice, not an error.
	Hosts(ctx context.Context, orgID string, from, to time.Time, limit int) ([]HostStat, error)
	// Prune deletes what was queued before cutoff (rows, or whole
	// partitions where the store has them) and returns the rounds removed
	// (-1 when the store drops partitions and does not count).
	Prune(ctx context.Context, cutoff time.Time) (int64, error)
	// Marker reports whether the named one-time step (an import) is done;
	// SetMarker records it as done.
	Marker(ctx context.Context, name string) (bool, error)
	SetMarker(ctx context.Context, name string) error
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
	// Close releases the store's connections.
	Close() error
}

// FindBy names the id a Find matches.
type FindBy string

// The ids Find matches.
const (
	ByEventID FindBy = "event_id"
	ByTaskID  FindBy = "task_id"
	ByRunID   FindBy = "run_id"
)

// Delivery is one delivery round of an event (the original delivery, or
// one replay) and its latest state.
type Delivery struct {
	EventID    string          `json:"event_id"`
	OrgID      string          `json:"org_id"`
	Source     envelope.Source `json:"source"`
	EventType  string          `json:"event_type"`
	TaskID     string          `json:"task_id,omitempty"`
	RunID      string          `json:"run_id,omitempty"`
	WorkflowID string          `json:"workflow_id,omitempty"`
	Host       string          `json:"host"`
	// Replay is the round: 0 for the original delivery, n for the n-th replay.
	Replay int `json:"replay"`
	// QueuedAt is when the round's request was stored on WEBHOOKS.
	QueuedAt time.Time `json:"queued_at"`
	// State is "retrying", "delivered" or "undelivered"; Final is true for
	// the last two.
	State string `json:"state"`
	Final bool   `json:"final"`
	// Attempts is the number of the round's latest attempt.
	Attempts int `json:"attempts"`
	// StatusCode, ResponseExcerpt, ErrorClass and Error are the latest
	// attempt's.
	StatusCode      int    `json:"status_code"`
	ResponseExcerpt string `json:"response_excerpt"`
	ErrorClass      string `json:"error_class,omitempty"`
	Error           string `json:"error,omitempty"`
	// FirstAttemptAt is the start of the round's first recorded attempt,
	// LastAttemptAt the start of its latest.
	FirstAttemptAt time.Time `json:"first_attempt_at"`
	LastAttemptAt  time.Time `json:"last_attempt_at"`
	// NextAttemptAt is when the next attempt is due (retrying only).
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	// Superseded is true when a later replay of the event is recorded.
	Superseded bool `json:"superseded"`
	// Workflow block columns (final workflow rounds only).
	WebhookStatusCode *int    `json:"webhook_status_code,omitempty"`
	WebhookResponse   *string `json:"webhook_response,omitempty"`
	WebhookSuccess    *bool   `json:"webhook_success,omitempty"`
}

// Attempt is one attempt of a round.
type Attempt struct {
	Attempt         int       `json:"attempt"`
	StartedAt       time.Time `json:"started_at"`
	FinishedAt      time.Time `json:"finished_at"`
	DurationMS      float64   `json:"duration_ms"`
	Sent            bool      `json:"sent"`
	StatusCode      int       `json:"status_code"`
	ResponseExcerpt string    `json:"response_excerpt"`
	ErrorClass      string    `json:"error_class,omitempty"`
	Error           string    `json:"error,omitempty"`
	Decision        string    `json:"decision"`
	RetryDelayMS    int64     `json:"retry_delay_ms,omitempty"`
	// RetryDelayFrom says what set RetryDelayMS: "schedule", "retry_after"
	// or "retry_after_cap" (see envelope.AttemptRecord).
	RetryDelayFrom string     `json:"retry_delay_from,omitempty"`
	NextAttemptAt  *time.Time `json:"next_attempt_at,omitempty"`
	// RequestHeaders are the headers the attempt was sent with, the
	// signature shortened (see envelope.AttemptRecord); nil when the record
	// predates them or nothing was sent.
	RequestHeaders map[string]string `json:"request_headers,omitempty"`
	// RequestBody is the body sent, recorded on a round's first attempt
	// only (the attempts of a round send the same payload; see
	// envelope.AttemptRecord), cut at envelope.MaxRecordedBody bytes;
	// RequestBodyTruncated says it was cut. "" when not recorded.
	RequestBody          string `json:"request_body,omitempty"`
	RequestBodyTruncated bool   `json:"request_body_truncated,omitempty"`
}

// HostStat is what the log says about one destination host over a time
// window: its attempts, how many failed, how many an open circuit refused,
// and how long the sent ones took.
type HostStat struct {
	Host string `json:"host"`
	// Attempts counts every attempt started in the window, sent or not.
	Attempts int64 `json:"attempts"`
	// Failures counts the attempts whose decision is not delivered: every
	// attempt that did not get a 2xx, those that sent nothing included.
	Failures int64 `json:"failures"`
	// CircuitOpen counts the attempts refused by the host's open circuit:
	// sent false, error class "connection", and an error that holds
	// CircuitOpenText (the deliverer's reason; there is no class of its
	// own). They are failures too.
	CircuitOpen int64 `json:"circuit_open"`
	// AvgDurationMS and MaxDurationMS are over the attempts that were
	// sent, in milliseconds; 0 when none was.
	AvgDurationMS float64 `json:"avg_duration_ms"`
	MaxDurationMS float64 `json:"max_duration_ms"`
	// LastAttemptAt is the start of the host's latest attempt in the window.
	LastAttemptAt time.Time `json:"last_attempt_at"`
}

// Round is a delivery round with its attempts, by attempt number.
type Round struct {
	Delivery
	AttemptList []Attempt `json:"attempt_list"`
}

// Timeline is an event's full history: its rounds by replay number.
type Timeline struct {
	EventID string  `json:"event_id"`
	OrgID   string  `json:"org_id"`
	Rounds  []Round `json:"rounds"`
}

// Page is one page of a search.
type Page struct {
	// Deliveries are the matching rounds, newest first.
	Deliveries []Delivery `json:"deliveries"`
	// Next is the cursor of the following page; empty on the last page.
	Next string `json:"next_cursor,omitempty"`
}

// Truncate returns t in the store's precision (microseconds, UTC): every
// time is stored and returned that way.
func Truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// DefaultRetention is how long the log keeps a round, from its queued_at.
const DefaultRetention = 14 * 24 * time.Hour

// Options are the settings every store takes.
type Options struct {
	// Retention is how long rounds are kept, from their queued_at; records
	// older than that are not written, and Prune is called with now minus
	// Retention. Defaults to DefaultRetention.
	Retention time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
