package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// deliveryColumns are the columns scanDelivery reads, in its order.
const deliveryColumns = `event_id, org_id, source, event_type, task_id, run_id, workflow_id,
	host, replay, queued_at, state, final, attempts, status_code, response_excerpt, error_class,
	error, first_attempt_at, last_attempt_at, next_attempt_at, superseded, webhook_status_code,
	webhook_response, webhook_success`

// scanDelivery reads the current row of deliveryColumns.
func scanDelivery(row *sql.Rows) (logstore.Delivery, error) {
	var (
		d                   logstore.Delivery
		source              string
		queued, first, last int64
		next, code          sql.NullInt64
		resp                sql.NullString
		ok                  sql.NullBool
	)
	err := row.Scan(&d.EventID, &d.OrgID, &source, &d.EventType, &d.TaskID, &d.RunID, &d.WorkflowID,
		&d.Host, &d.Replay, &queued, &d.State, &d.Final, &d.Attempts, &d.StatusCode, &d.ResponseExcerpt,
		&d.ErrorClass, &d.Error, &first, &last, &next, &d.Superseded, &code, &resp, &ok)
	if err != nil {
		return logstore.Delivery{}, err
	}
	d.Source = envelope.Source(source)
	d.QueuedAt, d.FirstAttemptAt, d.LastAttemptAt = fromMicros(queued), fromMicros(first), fromMicros(last)
	d.NextAttemptAt = fromNull(next)
	if code.Valid {
		v := int(code.Int64)
		d.WebhookStatusCode = &v
	}
	if resp.Valid {
		d.WebhookResponse = &resp.String
	}
	if ok.Valid {
		d.WebhookSuccess = &ok.Bool
	}
	return d, nil
}

// fromMicros is the time stored as us (Unix microseconds), in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// fromNull is the time stored as v, or nil for NULL.
func fromNull(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// queryDeliveries runs a query of deliveryColumns.
func (s *Store) queryDeliveries(ctx context.Context, query string, args ...any) ([]logstore.Delivery, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []logstore.Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// timelineRounds selects the rounds of an event (?1), of any organization
// when ?2 is "".
const timelineRounds = `SELECT ` + deliveryColumns + ` FROM deliveries
	WHERE event_id = ?1 AND (?2 = '' OR org_id = ?2) ORDER BY replay`

// timelineAttempts selects the attempts of an event, by round and number.
const timelineAttempts = `SELECT replay, attempt, started_at, finished_at, duration_ms, sent, status_code,
	response_excerpt, error_class, error, decision, retry_delay_ms, retry_delay_from, next_attempt_at,
	request_headers, request_body, request_body_truncated
	FROM attempts WHERE event_id = ? ORDER BY replay, attempt`

// Timeline returns every round of the event, superseded ones included, by
// replay, each with its attempts by number; an unknown event, or one of
// another organization, is an error wrapping logstore.ErrNotFound.
func (s *Store) Timeline(ctx context.Context, orgID, eventID string) (*logstore.Timeline, error) {
	tl, err := s.timeline(ctx, orgID, eventID)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: timeline of %q: %w", eventID, err)
	}
	return tl, nil
}

func (s *Store) timeline(ctx context.Context, orgID, eventID string) (*logstore.Timeline, error) {
	rounds, err := s.queryDeliveries(ctx, timelineRounds, eventID, orgID)
	if err != nil {
		return nil, err
	}
	if len(rounds) == 0 {
		return nil, logstore.ErrNotFound
	}
	tl := &logstore.Timeline{EventID: eventID, OrgID: rounds[0].OrgID, Rounds: make([]logstore.Round, len(rounds))}
	at := make(map[int]int, len(rounds)) // replay → index in tl.Rounds
	for i, d := range rounds {
		tl.Rounds[i] = logstore.Round{Delivery: d, AttemptList: []logstore.Attempt{}}
		at[d.Replay] = i
	}
	rows, err := s.db.QueryContext(ctx, timelineAttempts, eventID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			a                 logstore.Attempt
			replay            int
			started, finished int64
			next              sql.NullInt64
			headers, body     sql.NullString
		)
		if err := rows.Scan(&replay, &a.Attempt, &started, &finished, &a.DurationMS, &a.Sent, &a.StatusCode,
			&a.ResponseExcerpt, &a.ErrorClass, &a.Error, &a.Decision, &a.RetryDelayMS, &a.RetryDelayFrom, &next,
			&headers, &body, &a.RequestBodyTruncated); err != nil {
			return nil, err
		}
		a.StartedAt, a.FinishedAt, a.NextAttemptAt = fromMicros(started), fromMicros(finished), fromNull(next)
		a.RequestBody = body.String
		if headers.Valid {
			if err := json.Unmarshal([]byte(headers.String), &a.RequestHeaders); err != nil {
				return nil, fmt.Errorf("request headers of attempt %d of replay %d: %w", a.Attempt, replay, err)
			}
		}
		if i, ok := at[replay]; ok {
			tl.Rounds[i].AttemptList = append(tl.Rounds[i].AttemptList, a)
		}
	}
	return tl, rows.Err()
}

// findColumn returns the column that by names: an allow list, so that
// only these three names ever reach the SQL.
func findColumn(by logstore.FindBy) (string, bool) {
	switch by {
	case logstore.ByEventID, logstore.ByTaskID, logstore.ByRunID:
		return string(by), true
	}
	return "", false
}

// Find returns the latest (not superseded) round of every event whose
// column named by by equals id, oldest first, at most
// logstore.MaxFindResults; orgID "" matches any organization. Another by
// is an error wrapping logstore.ErrInvalidQuery; an empty id matches
// nothing.
func (s *Store) Find(ctx context.Context, by logstore.FindBy, id, orgID string) ([]logstore.Delivery, error) {
	col, ok := findColumn(by)
	if !ok {
		return nil, fmt.Errorf("sqlitestore: find: %w: by %q, want event_id, task_id or run_id", logstore.ErrInvalidQuery, by)
	}
	if id == "" {
		return []logstore.Delivery{}, nil
	}
	query, args := findSQL(col, id, orgID)
	out, err := s.queryDeliveries(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: find by %s %q: %w", by, id, err)
	}
	return out, nil
}

// findSQL returns the query of Find and its arguments. The condition
// col <> ” lets the planner use the partial indexes of task_id and
// run_id (id is never empty here); the unary + keeps it from choosing the
// organization's index instead, which would read all of its rounds.
func findSQL(col, id, orgID string) (string, []any) {
	w := where{}
	w.add("superseded = 0")
	w.add(col+" = ? AND "+col+" <> ''", id)
	if orgID != "" {
		w.add("+org_id = ?", orgID)
	}
	return `SELECT ` + deliveryColumns + ` FROM deliveries ` + w.sql() +
		` ORDER BY queued_at, event_id LIMIT ?`, append(w.args, logstore.MaxFindResults)
}
