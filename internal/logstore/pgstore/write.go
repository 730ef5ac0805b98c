package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// writeTries bounds the tries of one Write: a write is tried again after a
// deadlock with another writer, or after finding a partition missing that
// this process thought existed (another process pruned it).
const writeTries = 3

// Write stores a batch of attempt records in one transaction: all or
// nothing, in two round trips once the partitions exist (three when an
// event of the batch has a replay round). An attempt
// already stored (same event_id, replay, attempt and queued_at) is kept as
// it is and changes nothing; each newly stored attempt moves its round to
// its fields when its attempt is above the round's (so a late record never
// moves a round back), and first_attempt_at only moves earlier. Then,
// for the batch's events that have a replay round (replayed_events lists
// them), every round is marked superseded when a later replay of the
// event exists. Records queued before Now minus Retention are skipped
// (Prune would drop them), and so are nil records. NUL bytes and invalid
// UTF-8, which PostgreSQL text refuses, are stored as U+FFFD.
func (s *Store) Write(ctx context.Context, recs []*envelope.AttemptRecord) error {
	b := s.prepare(recs)
	if len(b.attempts) == 0 {
		return nil
	}
	var err error
	for try := 1; try <= writeTries; try++ {
		if err = s.ensurePartitions(ctx, b.days); err != nil {
			break
		}
		err = s.writeBatch(ctx, b)
		if err == nil || !retryable(err) {
			break
		}
		if isNoPartition(err) {
			s.forgetPartitions()
		}
	}
	if err != nil {
		return fmt.Errorf("pgstore: write %d records: %w", len(recs), err)
	}
	return nil
}

// writeBatch runs a batch's transaction: the attempts first, returning the
// keys of those newly stored; then the rounds of those, returning the
// highest replay of their events that have one; then the superseded marks
// of those events.
func (s *Store) writeBatch(ctx context.Context, b *batch) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, insertAttempts, attemptArgs(b.attempts)...)
		if err != nil {
			return fmt.Errorf("attempts: %w", err)
		}
		inserted := make(map[attemptKey]bool, len(b.attempts))
		var k attemptKey
		var queued time.Time
		_, err = pgx.ForEachRow(rows, []any{&k.eventID, &k.replay, &k.attempt, &queued}, func() error {
			k.queuedAt = queued.UnixMicro()
			inserted[k] = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("attempts: %w", err)
		}
		if len(inserted) == 0 {
			return nil
		}
		fresh := make([]*envelope.AttemptRecord, 0, len(inserted))
		for _, r := range b.attempts {
			if inserted[keyOf(r)] {
				fresh = append(fresh, r)
			}
		}
		// Statements one after the other, not one pipelined pgx.Batch:
		// measured with 1000-record batches, the pipeline took 229 ms a
		// batch and the round trips 23 ms (the batch's statements are
		// planned anew each time, each array parameter with a custom plan).
		rounds := fold(fresh)
		rows, err = tx.Query(ctx, upsertRounds, roundArgs(rounds)...)
		if err != nil {
			return fmt.Errorf("rounds: %w", err)
		}
		tops := make(map[string]int32)
		var id string
		var top int32
		_, err = pgx.ForEachRow(rows, []any{&id, &top}, func() error {
			tops[id] = max(tops[id], top)
			return nil
		})
		if err != nil {
			return fmt.Errorf("rounds: %w", err)
		}
		if len(tops) == 0 {
			return nil
		}
		ids := slices.Sorted(maps.Keys(tops))
		topReplays := make([]int32, len(ids))
		for i, id := range ids {
			topReplays[i] = tops[id]
		}
		if len(ids) > indexOnlyAbove {
			// Many events (a bulk replay): on partitions not yet analyzed
			// the planner would scan them whole instead of reading each
			// event through the primary key.
			if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
				return fmt.Errorf("superseded: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, markSuperseded, ids, topReplays); err != nil {
			return fmt.Errorf("superseded: %w", err)
		}
		return nil
	})
}

// indexOnlyAbove is the number of replayed events in a batch above which
// its superseded marks are made with sequential scans turned off.
const indexOnlyAbove = 20

// retryable reports whether a failed write may succeed when tried again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001") || isNoPartition(err)
}

// isNoPartition reports whether err is PostgreSQL refusing a row that no
// partition accepts.
func isNoPartition(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23514" && strings.Contains(pe.Message, "no partition")
}

// insertAttempts stores the batch's attempts and returns the keys of
// those it stored; an attempt already stored is kept.
const insertAttempts = `
INSERT INTO attempts (event_id, replay, attempt, queued_at, org_id, started_at, finished_at,
	duration_ms, sent, status_code, response_excerpt, error_class, error, decision,
	retry_delay_ms, next_attempt_at, retry_delay_from, host, request_headers, request_body,
	request_body_truncated)
SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::timestamptz[], $5::text[],
	$6::timestamptz[], $7::timestamptz[], $8::float8[], $9::bool[], $10::int[], $11::text[],
	$12::text[], $13::text[], $14::text[], $15::bigint[], $16::timestamptz[], $17::text[],
	$18::text[], $19::text[], $20::text[], $21::bool[])
ON CONFLICT DO NOTHING
RETURNING event_id, replay, attempt, queued_at`

// latestColumns are the round's columns that follow its latest attempt:
// an existing round takes them from the batch only for a later attempt.
var latestColumns = []string{
	"org_id", "source", "event_type", "task_id", "run_id", "workflow_id", "host",
	"state", "final", "attempts", "status_code", "response_excerpt", "error_class", "error",
	"last_attempt_at", "next_attempt_at", "webhook_status_code", "webhook_response", "webhook_success",
}

// upsertRounds stores the batch's rounds, folded to one row per round;
// records each event of the batch that has a replay round in
// replayed_events; and returns, for each event of the batch known there,
// its highest replay (an event may come twice, with its top before and
// after this batch: the caller keeps the higher).
var upsertRounds = func() string {
	set := make([]string, 0, len(latestColumns)+1)
	set = append(set, "first_attempt_at = LEAST(d.first_attempt_at, EXCLUDED.first_attempt_at)")
	for _, c := range latestColumns {
		set = append(set, fmt.Sprintf("%[1]s = CASE WHEN EXCLUDED.attempts > d.attempts THEN EXCLUDED.%[1]s ELSE d.%[1]s END", c))
	}
	return `
WITH rounds AS (
INSERT INTO deliveries AS d (event_id, replay, queued_at, org_id, source, event_type, task_id,
	run_id, workflow_id, host, state, final, attempts, status_code, response_excerpt,
	error_class, error, first_attempt_at, last_attempt_at, next_attempt_at,
	webhook_status_code, webhook_response, webhook_success)
SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::text[], $5::text[],
	$6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bool[],
	$13::int[], $14::int[], $15::text[], $16::text[], $17::text[], $18::timestamptz[],
	$19::timestamptz[], $20::timestamptz[], $21::int[], $22::text[], $23::bool[])
ON CONFLICT (event_id, replay, queued_at) DO UPDATE SET
	` + strings.Join(set, ",\n\t") + `
), replayed AS (
INSERT INTO replayed_events AS r (event_id, top_replay, queued_at)
SELECT e, max(n), max(q) FROM unnest($1::text[], $2::int[], $3::timestamptz[]) t(e, n, q)
WHERE n > 0 GROUP BY e ORDER BY e
ON CONFLICT (event_id) DO UPDATE SET
	top_replay = GREATEST(r.top_replay, EXCLUDED.top_replay),
	queued_at = GREATEST(r.queued_at, EXCLUDED.queued_at)
RETURNING event_id, top_replay
)
SELECT event_id, top_replay FROM replayed
UNION ALL
SELECT event_id, top_replay FROM replayed_events WHERE event_id = ANY($1::text[])`
}()

// markSuperseded sets superseded on the rounds of the named events ($1),
// each with its highest replay ($2): true below it, false on it. Rows
// already right are not rewritten. The events are named on both sides,
// so that each is read through the primary key of every partition.
const markSuperseded = `
UPDATE deliveries d SET superseded = d.replay < m.top
FROM unnest($1::text[], $2::int[]) m(event_id, top)
WHERE d.event_id = ANY($1::text[]) AND d.event_id = m.event_id
	AND d.superseded IS DISTINCT FROM (d.replay < m.top)`

// attemptArgs returns the column arrays of insertAttempts.
func attemptArgs(recs []*envelope.AttemptRecord) []any {
	n := len(recs)
	var (
		eventID, orgID, excerpt, class, msg, decision = mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n)
		delayFrom, host                               = mk[string](n), mk[string](n)
		replay, attempt, status                       = mk[int32](n), mk[int32](n), mk[int32](n)
		queued, started, finished                     = mk[time.Time](n), mk[time.Time](n), mk[time.Time](n)
		next                                          = mk[*time.Time](n)
		duration                                      = mk[float64](n)
		sent, truncated                               = mk[bool](n), mk[bool](n)
		delay                                         = mk[int64](n)
		headers, body                                 = mk[*string](n), mk[*string](n)
	)
	for i, r := range recs {
		eventID[i], replay[i], attempt[i], queued[i], orgID[i] = r.EventID, int32(r.Replay), int32(r.Attempt), r.QueuedAt, r.OrgID
		started[i], finished[i], duration[i], sent[i], status[i] = r.StartedAt, r.FinishedAt, r.DurationMS, r.Sent, int32(r.StatusCode)
		excerpt[i], class[i], msg[i], decision[i] = r.ResponseExcerpt, r.ErrorClass, r.Error, r.Decision
		delay[i], next[i], delayFrom[i] = r.RetryDelayMS, r.NextAttemptAt, r.RetryDelayFrom
		host[i], headers[i], truncated[i] = r.Host, headersJSON(r.RequestHeaders), r.RequestBodyTruncated
		if r.RequestBody != "" {
			body[i] = &r.RequestBody
		}
	}
	return []any{eventID, replay, attempt, queued, orgID, started, finished, duration, sent,
		status, excerpt, class, msg, decision, delay, next, delayFrom, host, headers, body, truncated}
}

// headersJSON returns request headers as stored: a JSON object, or nil
// (NULL) for none. encoding/json writes valid UTF-8 without NUL bytes (it
// escapes them), which text accepts.
func headersJSON(h map[string]string) *string {
	if len(h) == 0 {
		return nil
	}
	b, _ := json.Marshal(h) // a map of strings always encodes
	s := string(b)
	return &s
}

// roundArgs returns the column arrays of upsertRounds.
func roundArgs(rounds []*round) []any {
	n := len(rounds)
	var (
		eventID, orgID, source, eventType = mk[string](n), mk[string](n), mk[string](n), mk[string](n)
		taskID, runID, workflowID, host   = mk[string](n), mk[string](n), mk[string](n), mk[string](n)
		state, excerpt, class, msg        = mk[string](n), mk[string](n), mk[string](n), mk[string](n)
		replay, attempts, status          = mk[int32](n), mk[int32](n), mk[int32](n)
		final                             = mk[bool](n)
		queued, first, last               = mk[time.Time](n), mk[time.Time](n), mk[time.Time](n)
		next                              = mk[*time.Time](n)
		hookStatus                        = mk[*int32](n)
		hookResponse                      = mk[*string](n)
		hookSuccess                       = mk[*bool](n)
	)
	for i, rd := range rounds {
		r := rd.latest
		eventID[i], replay[i], queued[i], orgID[i], source[i] = r.EventID, int32(r.Replay), r.QueuedAt, r.OrgID, string(r.Source)
		eventType[i], taskID[i], runID[i], workflowID[i], host[i] = r.EventType, r.TaskID, r.RunID, r.WorkflowID, r.Host
		state[i], final[i], attempts[i], status[i] = r.State, r.Final, int32(r.Attempt), int32(r.StatusCode)
		excerpt[i], class[i], msg[i] = r.ResponseExcerpt, r.ErrorClass, r.Error
		first[i], last[i], next[i] = rd.first, r.StartedAt, r.NextAttemptAt
		if r.WebhookStatusCode != nil {
			v := int32(*r.WebhookStatusCode)
			hookStatus[i] = &v
		}
		hookResponse[i], hookSuccess[i] = r.WebhookResponse, r.WebhookSuccess
	}
	return []any{eventID, replay, queued, orgID, source, eventType, taskID, runID, workflowID,
		host, state, final, attempts, status, excerpt, class, msg, first, last, next,
		hookStatus, hookResponse, hookSuccess}
}

// mk returns a slice of n zero values.
func mk[T any](n int) []T { return make([]T, n) }

// clean returns r's copy in the store's form: times truncated to
// microseconds in UTC, text that PostgreSQL accepts.
func clean(r *envelope.AttemptRecord) *envelope.AttemptRecord {
	c := *r
	c.QueuedAt, c.StartedAt, c.FinishedAt = logstore.Truncate(c.QueuedAt), logstore.Truncate(c.StartedAt), logstore.Truncate(c.FinishedAt)
	if c.NextAttemptAt != nil {
		t := logstore.Truncate(*c.NextAttemptAt)
		c.NextAttemptAt = &t
	}
	for _, p := range []*string{&c.EventID, &c.OrgID, &c.EventType, &c.TaskID, &c.RunID, &c.WorkflowID,
		&c.Host, &c.ResponseExcerpt, &c.ErrorClass, &c.Error, &c.Decision, &c.State, &c.RequestBody} {
		*p = text(*p)
	}
	c.Source = envelope.Source(text(string(c.Source)))
	if c.WebhookResponse != nil {
		v := text(*c.WebhookResponse)
		c.WebhookResponse = &v
	}
	return &c
}

// text returns s with what PostgreSQL text refuses (NUL bytes, invalid
// UTF-8) replaced by U+FFFD, so that one odd record cannot fail its batch
// again and again.
func text(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
