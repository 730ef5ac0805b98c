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

// insertAttempt stores an attempt unless its (event_id, replay, attempt)
// is stored: the first write wins.
const insertAttempt = `INSERT INTO attempts (event_id, replay, attempt, queued_at, org_id, started_at, finished_at,
	duration_ms, sent, status_code, response_excerpt, error_class, error, decision, retry_delay_ms, retry_delay_from,
	next_attempt_at, host, request_headers, request_body, request_body_truncated)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT DO NOTHING`

// upsertRound inserts a round (superseded when a later replay of its event
// is stored), or folds an attempt into it: the earliest start always, the
// latest fields only from a later attempt. Every SET expression reads the
// row as it was before the update (attempts included). The parameters are
// plain "?" (the driver looks a numbered one up by name, which costs).
const upsertRound = `INSERT INTO deliveries (event_id, replay, queued_at, org_id, source, event_type, task_id,
	run_id, workflow_id, host, state, final, attempts, status_code, response_excerpt, error_class, error,
	first_attempt_at, last_attempt_at, next_attempt_at, webhook_status_code, webhook_response, webhook_success,
	superseded)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
	EXISTS (SELECT 1 FROM deliveries WHERE event_id = ? AND replay > ?))
	ON CONFLICT (event_id, replay) DO UPDATE SET
	first_attempt_at = min(first_attempt_at, excluded.first_attempt_at),
	state = iif(excluded.attempts > attempts, excluded.state, state),
	final = iif(excluded.attempts > attempts, excluded.final, final),
	status_code = iif(excluded.attempts > attempts, excluded.status_code, status_code),
	response_excerpt = iif(excluded.attempts > attempts, excluded.response_excerpt, response_excerpt),
	error_class = iif(excluded.attempts > attempts, excluded.error_class, error_class),
	error = iif(excluded.attempts > attempts, excluded.error, error),
	last_attempt_at = iif(excluded.attempts > attempts, excluded.last_attempt_at, last_attempt_at),
	next_attempt_at = iif(excluded.attempts > attempts, excluded.next_attempt_at, next_attempt_at),
	webhook_status_code = iif(excluded.attempts > attempts, excluded.webhook_status_code, webhook_status_code),
	webhook_response = iif(excluded.attempts > attempts, excluded.webhook_response, webhook_response),
	webhook_success = iif(excluded.attempts > attempts, excluded.webhook_success, webhook_success),
	attempts = max(attempts, excluded.attempts)`

// markSuperseded sets superseded on every round of an event: 1 below its
// highest recorded replay, 0 on that one. Rows already right are not
// rewritten.
const markSuperseded = `UPDATE deliveries SET superseded = (replay < m.top)
	FROM (SELECT max(replay) AS top FROM deliveries WHERE event_id = ?1) AS m
	WHERE event_id = ?1 AND superseded <> (replay < m.top)`

// Write stores a batch of attempt records in one transaction: all or
// nothing. An attempt already stored (same event_id, replay and attempt)
// is kept as it is and changes nothing; a newly stored attempt moves its
// round to its fields only when its number is above the round's (a late
// record never moves a round back), and first_attempt_at only moves
// earlier. Every round of the batch's events is then superseded exactly
// when a later replay of its event is stored. Records queued before Now
// minus Retention, and nil records, are skipped. Writes of one Store take
// turns; writers in other processes wait on the busy timeout.
func (s *Store) Write(ctx context.Context, recs []*envelope.AttemptRecord) error {
	if err := s.write(ctx, recs); err != nil {
		return fmt.Errorf("sqlitestore: write %d records to %s: %w", len(recs), s.path, err)
	}
	return nil
}

func (s *Store) write(ctx context.Context, recs []*envelope.AttemptRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	oldest := s.opts.Now().Add(-s.opts.Retention)
	keep := make([]*envelope.AttemptRecord, 0, len(recs))
	for _, r := range recs {
		if r != nil && !r.QueuedAt.Before(oldest) {
			keep = append(keep, r)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error { return writeTx(ctx, tx, keep) })
}

// writeTx stores recs in tx with prepared statements.
func writeTx(ctx context.Context, tx *sql.Tx, recs []*envelope.AttemptRecord) error {
	attempt, err := tx.PrepareContext(ctx, insertAttempt)
	if err != nil {
		return fmt.Errorf("prepare attempts: %w", err)
	}
	defer attempt.Close()
	round, err := tx.PrepareContext(ctx, upsertRound)
	if err != nil {
		return fmt.Errorf("prepare deliveries: %w", err)
	}
	defer round.Close()
	// replays are the events of the batch that have a replay: only a
	// replay's new round can supersede rounds already stored (a new round
	// 0 gets its own mark from upsertRound).
	replays := map[string]bool{}
	for _, r := range recs {
		// Arguments are of the driver's own types (int64, string, nil), which
		// database/sql passes on without converting.
		id, replay, n := r.EventID, int64(r.Replay), int64(r.Attempt)
		q, started, next := micros(r.QueuedAt), micros(r.StartedAt), microsOrNil(r.NextAttemptAt)
		status := int64(r.StatusCode)
		headers, err := headersOrNil(r.RequestHeaders)
		if err != nil {
			return fmt.Errorf("attempt %d of %s replay %d: request headers: %w", r.Attempt, id, r.Replay, err)
		}
		res, err := attempt.ExecContext(ctx, id, replay, n, q, r.OrgID, started, micros(r.FinishedAt),
			r.DurationMS, r.Sent, status, r.ResponseExcerpt, r.ErrorClass, r.Error, r.Decision, r.RetryDelayMS, r.RetryDelayFrom, next,
			r.Host, headers, textOrNil(r.RequestBody), r.RequestBodyTruncated)
		if err != nil {
			return fmt.Errorf("attempt %d of %s replay %d: %w", r.Attempt, id, r.Replay, err)
		}
		stored, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("attempt %d of %s replay %d: %w", r.Attempt, id, r.Replay, err)
		}
		if stored == 0 {
			continue // stored before: the first write wins
		}
		_, err = round.ExecContext(ctx, id, replay, q, r.OrgID, string(r.Source), r.EventType, r.TaskID,
			r.RunID, r.WorkflowID, r.Host, r.State, r.Final, n, status, r.ResponseExcerpt, r.ErrorClass,
			r.Error, started, started, next, intOrNil(r.WebhookStatusCode), stringOrNil(r.WebhookResponse),
			boolOrNil(r.WebhookSuccess), id, replay)
		if err != nil {
			return fmt.Errorf("round of %s replay %d: %w", id, r.Replay, err)
		}
		if r.Replay > 0 {
			replays[id] = true
		}
	}
	if len(replays) == 0 {
		return nil
	}
	mark, err := tx.PrepareContext(ctx, markSuperseded)
	if err != nil {
		return fmt.Errorf("prepare superseded: %w", err)
	}
	defer mark.Close()
	for id := range replays {
		if _, err := mark.ExecContext(ctx, id); err != nil {
			return fmt.Errorf("superseded rounds of %s: %w", id, err)
		}
	}
	return nil
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE, from the DSN),
// after the writes of this Store that came first, and commits it when fn
// returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	select {
	case s.writing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.writing }()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// micros is t as stored: Unix microseconds.
func micros(t time.Time) int64 { return logstore.Truncate(t).UnixMicro() }

// microsOrNil is *t as stored, or NULL.
func microsOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return micros(*t)
}

func intOrNil(v *int) any {
	if v == nil {
		return nil
	}
	return int64(*v)
}

func stringOrNil(v *string) any {
	if v == nil {
		return nil
	}
	return *v
}

// headersOrNil returns request headers as stored: a JSON object, or NULL
// for none.
func headersOrNil(h map[string]string) (any, error) {
	if len(h) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// textOrNil returns s, or NULL for "".
func textOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func boolOrNil(v *bool) any {
	if v == nil {
		return nil
	}
	return *v
}
