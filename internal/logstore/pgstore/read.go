package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
)

// deliveryColumns are the columns scanDelivery reads, in its order.
const deliveryColumns = `event_id, org_id, source, event_type, task_id, run_id, workflow_id,
	host, replay, queued_at, state, final, attempts, status_code, response_excerpt, error_class,
	error, first_attempt_at, last_attempt_at, next_attempt_at, superseded, webhook_status_code,
	webhook_response, webhook_success`

// scanDelivery reads one row of deliveryColumns, times in UTC.
func scanDelivery(row pgx.CollectableRow) (logstore.Delivery, error) {
	var d logstore.Delivery
	err := row.Scan(&d.EventID, &d.OrgID, &d.Source, &d.EventType, &d.TaskID, &d.RunID,
		&d.WorkflowID, &d.Host, &d.Replay, &d.QueuedAt, &d.State, &d.Final, &d.Attempts,
		&d.StatusCode, &d.ResponseExcerpt, &d.ErrorClass, &d.Error, &d.FirstAttemptAt,
		&d.LastAttemptAt, &d.NextAttemptAt, &d.Superseded, &d.WebhookStatusCode,
		&d.WebhookResponse, &d.WebhookSuccess)
	d.QueuedAt, d.FirstAttemptAt, d.LastAttemptAt = d.QueuedAt.UTC(), d.FirstAttemptAt.UTC(), d.LastAttemptAt.UTC()
	d.NextAttemptAt = utcPtr(d.NextAttemptAt)
	return d, err
}

// attemptColumns are the columns scanAttempt reads, after the round key
// (replay, queued_at).
const attemptColumns = `replay, queued_at, attempt, started_at, finished_at, duration_ms, sent,
	status_code, response_excerpt, error_class, error, decision, retry_delay_ms, retry_delay_from, next_attempt_at,
	request_headers, request_body, request_body_truncated`

// keyedAttempt is an attempt with the key of its round.
type keyedAttempt struct {
	replay   int
	queuedAt time.Time
	logstore.Attempt
}

// scanAttempt reads one row of attemptColumns, times in UTC; NULL
// request headers and body (none recorded) are nil and "".
func scanAttempt(row pgx.CollectableRow) (keyedAttempt, error) {
	var a keyedAttempt
	var headers, body *string
	err := row.Scan(&a.replay, &a.queuedAt, &a.Attempt.Attempt, &a.StartedAt, &a.FinishedAt,
		&a.DurationMS, &a.Sent, &a.StatusCode, &a.ResponseExcerpt, &a.ErrorClass, &a.Error,
		&a.Decision, &a.RetryDelayMS, &a.RetryDelayFrom, &a.NextAttemptAt, &headers, &body,
		&a.RequestBodyTruncated)
	if err != nil {
		return a, err
	}
	a.StartedAt, a.FinishedAt, a.NextAttemptAt = a.StartedAt.UTC(), a.FinishedAt.UTC(), utcPtr(a.NextAttemptAt)
	if body != nil {
		a.RequestBody = *body
	}
	if headers != nil {
		if err := json.Unmarshal([]byte(*headers), &a.RequestHeaders); err != nil {
			return a, fmt.Errorf("request headers of attempt %d of replay %d: %w", a.Attempt.Attempt, a.replay, err)
		}
	}
	return a, nil
}

// utcPtr returns t in UTC; nil stays nil.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Timeline returns every round of the event, superseded ones included, by
// replay, each with its attempts by attempt number. orgID "" matches any
// organization; an unknown event, or one of another organization, is an
// error wrapping logstore.ErrNotFound.
func (s *Store) Timeline(ctx context.Context, orgID, eventID string) (*logstore.Timeline, error) {
	tl, err := s.timeline(ctx, orgID, eventID)
	if err != nil {
		return nil, fmt.Errorf("pgstore: timeline of %q: %w", eventID, err)
	}
	return tl, nil
}

func (s *Store) timeline(ctx context.Context, orgID, eventID string) (*logstore.Timeline, error) {
	b := &pgx.Batch{}
	var rounds []logstore.Delivery
	var attempts []keyedAttempt
	b.Queue(`SELECT `+deliveryColumns+` FROM deliveries
		WHERE event_id = $1 AND ($2 = '' OR org_id = $2) ORDER BY replay, queued_at`, eventID, orgID).
		Query(func(rows pgx.Rows) (err error) {
			rounds, err = pgx.CollectRows(rows, scanDelivery)
			return err
		})
	b.Queue(`SELECT `+attemptColumns+` FROM attempts
		WHERE event_id = $1 AND ($2 = '' OR org_id = $2) ORDER BY replay, queued_at, attempt`, eventID, orgID).
		Query(func(rows pgx.Rows) (err error) {
			attempts, err = pgx.CollectRows(rows, scanAttempt)
			return err
		})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	if len(rounds) == 0 {
		return nil, logstore.ErrNotFound
	}
	tl := &logstore.Timeline{EventID: eventID, OrgID: rounds[0].OrgID, Rounds: make([]logstore.Round, len(rounds))}
	at := make(map[roundKey]int, len(rounds))
	for i, d := range rounds {
		tl.Rounds[i] = logstore.Round{Delivery: d, AttemptList: []logstore.Attempt{}}
		at[roundKey{eventID, d.Replay, d.QueuedAt.UnixMicro()}] = i
	}
	for _, a := range attempts {
		if i, ok := at[roundKey{eventID, a.replay, a.queuedAt.UnixMicro()}]; ok {
			tl.Rounds[i].AttemptList = append(tl.Rounds[i].AttemptList, a.Attempt)
		}
	}
	return tl, nil
}

// findColumns maps a FindBy to its column; the map is the allow list that
// keeps the column name out of the caller's hands.
var findColumns = map[logstore.FindBy]string{
	logstore.ByEventID: "event_id",
	logstore.ByTaskID:  "task_id",
	logstore.ByRunID:   "run_id",
}

// Find returns the latest (not superseded) round of every event whose
// column named by by equals id, oldest first (queued_at, event_id), at
// most logstore.MaxFindResults; orgID "" matches any organization. An
// unknown by is an error wrapping logstore.ErrInvalidQuery; nothing
// matched, or an empty id, is an empty slice.
func (s *Store) Find(ctx context.Context, by logstore.FindBy, id, orgID string) ([]logstore.Delivery, error) {
	col, ok := findColumns[by]
	if !ok {
		return nil, fmt.Errorf("pgstore: find: %w: by %q, want event_id, task_id or run_id", logstore.ErrInvalidQuery, by)
	}
	if id == "" {
		return []logstore.Delivery{}, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries
		WHERE NOT superseded AND `+col+` = $1 AND ($2 = '' OR org_id = $2)
		ORDER BY queued_at, event_id LIMIT $3`, id, orgID, logstore.MaxFindResults)
	if err != nil {
		return nil, fmt.Errorf("pgstore: find by %s %q: %w", by, id, err)
	}
	found, err := pgx.CollectRows(rows, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("pgstore: find by %s %q: %w", by, id, err)
	}
	if found == nil {
		found = []logstore.Delivery{}
	}
	return found, nil
}

// Counts returns the number of latest (not superseded) rounds per state
// whose queued_at is in [from, to); a zero from or to leaves that side
// unbounded, and orgID "" counts every organization. The map always holds
// retrying, delivered and undelivered.
func (s *Store) Counts(ctx context.Context, orgID string, from, to time.Time) (map[string]int64, error) {
	w := where{}
	w.add("NOT superseded")
	if orgID != "" {
		w.add("org_id = $", orgID)
	}
	if !from.IsZero() {
		w.add("queued_at >= $", logstore.Truncate(from))
	}
	if !to.IsZero() {
		w.add("queued_at < $", logstore.Truncate(to))
	}
	rows, err := s.pool.Query(ctx, `SELECT state, count(*) FROM deliveries `+w.sql()+` GROUP BY state`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: counts: %w", err)
	}
	counts := map[string]int64{"retrying": 0, "delivered": 0, "undelivered": 0}
	var state string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&state, &n}, func() error {
		counts[state] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: counts: %w", err)
	}
	return counts, nil
}
