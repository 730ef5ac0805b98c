package logstore

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// Status classes a search can filter on.
var statusClasses = map[string][2]int{
	"2xx": {200, 299}, "3xx": {300, 399}, "4xx": {400, 499}, "5xx": {500, 599}, "none": {0, 0},
}

// Query is a search of the delivery log. Every filter is optional.
type Query struct {
	// OrgID limits the search to one organization; "" searches all
	// (operators only). A cursor is bound to the OrgID of its search.
	OrgID string
	// From and To bound queued_at to [From, To); zero means unbounded.
	From, To time.Time
	// State is "retrying", "delivered" or "undelivered".
	State string
	// Source is "job" or "workflow".
	Source string
	// EventType and Host match exactly.
	EventType string
	Host      string
	// StatusClass is "2xx", "3xx", "4xx", "5xx" or "none" (no response)
	// and matches the round's latest status code.
	StatusClass string
	// Limit is the page size, 1..MaxLimit. Defaults to DefaultLimit.
	Limit int
	// Cursor continues a search from the Page.Next of its previous page.
	Cursor string
}

// QueryError lists every problem of a query, one per field. It wraps
// ErrInvalidQuery.
type QueryError struct {
	Fields []envelope.FieldError
}

// Error joins the problems with "; ".
func (e *QueryError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Error()
	}
	return "logstore: invalid query: " + strings.Join(parts, "; ")
}

// Unwrap returns ErrInvalidQuery.
func (e *QueryError) Unwrap() error { return ErrInvalidQuery }

// Add records a problem with a field.
func (e *QueryError) Add(field, message string) {
	e.Fields = append(e.Fields, envelope.FieldError{Field: field, Message: message})
}

// Err returns e, or nil when it holds no problem.
func (e *QueryError) Err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// Cursor is the position after the last row of a page.
type Cursor struct {
	OrgID    string
	QueuedAt time.Time
	EventID  string
	Replay   int
}

// cursorJSON is the cursor's wire form, before base64url.
type cursorJSON struct {
	Org string `json:"o"`
	Q   int64  `json:"q"` // queued_at, Unix microseconds
	E   string `json:"e"`
	R   int    `json:"r"`
}

// Encode returns the cursor as an opaque string.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(cursorJSON{Org: c.OrgID, Q: c.QueuedAt.UnixMicro(), E: c.EventID, R: c.Replay})
	return base64.RawURLEncoding.EncodeToString(b)
}

// errCursor is the message of every undecodable cursor.
var errCursor = errors.New("not a cursor of this API; pass next_cursor of the previous page unchanged")

// decodeCursor parses a cursor made by Encode.
func decodeCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 512 {
		return Cursor{}, errCursor
	}
	var c cursorJSON
	if err := json.Unmarshal(b, &c); err != nil || !envelope.ValidOrgID(c.E) || c.R < 0 || (c.Org != "" && !envelope.ValidOrgID(c.Org)) {
		return Cursor{}, errCursor
	}
	return Cursor{OrgID: c.Org, QueuedAt: time.UnixMicro(c.Q).UTC(), EventID: c.E, Replay: c.R}, nil
}

// Checked is a validated query, ready for a store to run.
type Checked struct {
	Query
	// After is the decoded cursor; nil on the first page.
	After *Cursor
	// StatusRange is the status-code range of StatusClass; nil when unset.
	StatusRange *[2]int
}

// Check validates q and applies the defaults. Every problem is reported,
// as a *QueryError naming the field; a cursor made for another
// organization's search is refused.
func (q Query) Check() (Checked, error) {
	var qe QueryError
	c := Checked{Query: q}
	if q.OrgID != "" && !envelope.ValidOrgID(q.OrgID) {
		qe.Add("org_id", "must match [A-Za-z0-9_-]{1,64}")
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		qe.Add("to", "must be after from")
	}
	if q.State != "" && q.State != envelope.StateRetrying && q.State != envelope.StateDelivered && q.State != envelope.StateUndelivered {
		qe.Add("state", "must be retrying, delivered or undelivered")
	}
	if q.Source != "" && q.Source != string(envelope.SourceJob) && q.Source != string(envelope.SourceWorkflow) {
		qe.Add("source", "must be job or workflow")
	}
	if len(q.EventType) > envelope.MaxIDLength {
		qe.Add("event_type", "is too long")
	}
	if len(q.Host) > 253 {
		qe.Add("host", "is longer than 253 bytes")
	}
	if q.StatusClass != "" {
		r, ok := statusClasses[q.StatusClass]
		if !ok {
			qe.Add("status_class", "must be 2xx, 3xx, 4xx, 5xx or none")
		}
		c.StatusRange = &r
	}
	switch {
	case q.Limit == 0:
		c.Limit = DefaultLimit
	case q.Limit < 0 || q.Limit > MaxLimit:
		qe.Add("limit", "must be between 1 and 500")
	}
	if q.Cursor != "" {
		cur, err := decodeCursor(q.Cursor)
		switch {
		case err != nil:
			qe.Add("cursor", err.Error())
		case cur.OrgID != q.OrgID:
			qe.Add("cursor", "belongs to another search; start again without a cursor")
		default:
			c.After = &cur
		}
	}
	if err := qe.Err(); err != nil {
		return Checked{}, err
	}
	c.From, c.To = truncIfSet(q.From), truncIfSet(q.To)
	return c, nil
}

// NextCursor returns the cursor after d for a search of orgID.
func NextCursor(orgID string, d Delivery) string {
	return Cursor{OrgID: orgID, QueuedAt: d.QueuedAt, EventID: d.EventID, Replay: d.Replay}.Encode()
}

func truncIfSet(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return Truncate(t)
}
