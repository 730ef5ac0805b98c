package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// Record returns a valid attempt record (attempt 1 of a job event,
// delivered) for org and event, queued at queued; callers adjust the
// fields. Its times are in the store's precision (logstore.Truncate), so a
// record read back compares equal: the attempt starts 2 s after queued and
// takes 150 ms. The task id is "task-" + eventID, the host
// hooks.example.com.
func Record(org, eventID string, queued time.Time) *envelope.AttemptRecord {
	q := logstore.Truncate(queued)
	start := q.Add(2 * time.Second)
	return &envelope.AttemptRecord{
		V:               1,
		EventID:         eventID,
		OrgID:           org,
		Source:          envelope.SourceJob,
		EventType:       "enrich_lead",
		TaskID:          "task-" + eventID,
		Host:            "hooks.example.com",
		Attempt:         1,
		QueuedAt:        q,
		StartedAt:       start,
		FinishedAt:      start.Add(150 * time.Millisecond),
		DurationMS:      148.25,
		Sent:            true,
		StatusCode:      200,
		ResponseExcerpt: "ok",
		Decision:        envelope.DecisionDelivered,
		State:           envelope.StateDelivered,
		Final:           true,
	}
}

// workflowRecord returns Record as a workflow run event of run (workflow
// "wf-" + run) instead of a job.
func workflowRecord(org, eventID, run string, queued time.Time) *envelope.AttemptRecord {
	r := Record(org, eventID, queued)
	r.Source, r.EventType = envelope.SourceWorkflow, envelope.WorkflowEventType
	r.TaskID, r.RunID, r.WorkflowID = "", run, "wf-"+run
	r.SetBlockColumns()
	return r
}

// attempt returns a copy of base (which names the event and the round's
// queued_at) as attempt n of round replay, ending in decision with HTTP
// status (0: no response). It starts n minutes after queued_at; the error
// fields, the retry delay and next attempt, and the workflow block columns
// follow from the decision.
func attempt(base *envelope.AttemptRecord, replay, n int, decision string, status int) *envelope.AttemptRecord {
	r := *base
	r.Replay, r.Attempt = replay, n
	r.StartedAt = r.QueuedAt.Add(time.Duration(n) * time.Minute)
	r.FinishedAt = r.StartedAt.Add(150 * time.Millisecond)
	r.StatusCode, r.Decision = status, decision
	r.State = envelope.StateOf(decision)
	r.Final = r.State != envelope.StateRetrying
	r.ResponseExcerpt, r.ErrorClass, r.Error = "ok", "", ""
	r.RetryDelayMS, r.RetryDelayFrom, r.NextAttemptAt = 0, "", nil
	r.WebhookStatusCode, r.WebhookResponse, r.WebhookSuccess = nil, nil, nil
	switch {
	case decision == envelope.DecisionDelivered:
	case status == 0:
		r.ResponseExcerpt, r.ErrorClass, r.Error = "", "connection", "dial tcp: connection refused"
	default:
		r.ResponseExcerpt, r.ErrorClass = fmt.Sprintf("status %d", status), "response"
		r.Error = fmt.Sprintf("HTTP %d", status)
	}
	if decision == envelope.DecisionRetry {
		next := r.FinishedAt.Add(30 * time.Second)
		r.RetryDelayMS, r.RetryDelayFrom, r.NextAttemptAt = 30_000, "retry_after", &next
	}
	r.SetBlockColumns()
	return &r
}

// attemptOf returns the attempt row a store keeps for r: no request
// headers (nil) when r has none, an empty map included.
func attemptOf(r *envelope.AttemptRecord) logstore.Attempt {
	a := logstore.Attempt{
		Attempt:         r.Attempt,
		StartedAt:       logstore.Truncate(r.StartedAt),
		FinishedAt:      logstore.Truncate(r.FinishedAt),
		DurationMS:      r.DurationMS,
		Sent:            r.Sent,
		StatusCode:      r.StatusCode,
		ResponseExcerpt: r.ResponseExcerpt,
		ErrorClass:      r.ErrorClass,
		Error:           r.Error,
		Decision:        r.Decision,
		RetryDelayMS:    r.RetryDelayMS,
		RetryDelayFrom:  r.RetryDelayFrom,
		NextAttemptAt:   truncPtr(r.NextAttemptAt),
		RequestBody:     r.RequestBody,

		RequestBodyTruncated: r.RequestBodyTruncated,
	}
	if len(r.RequestHeaders) > 0 {
		a.RequestHeaders = r.RequestHeaders
	}
	return a
}

// deliveryOf returns the round a store holds once first (its earliest
// recorded attempt) and latest (its highest) are written; not superseded.
func deliveryOf(first, latest *envelope.AttemptRecord) logstore.Delivery {
	return logstore.Delivery{
		EventID:           latest.EventID,
		OrgID:             latest.OrgID,
		Source:            latest.Source,
		EventType:         latest.EventType,
		TaskID:            latest.TaskID,
		RunID:             latest.RunID,
		WorkflowID:        latest.WorkflowID,
		Host:              latest.Host,
		Replay:            latest.Replay,
		QueuedAt:          logstore.Truncate(latest.QueuedAt),
		State:             latest.State,
		Final:             latest.Final,
		Attempts:          latest.Attempt,
		StatusCode:        latest.StatusCode,
		ResponseExcerpt:   latest.ResponseExcerpt,
		ErrorClass:        latest.ErrorClass,
		Error:             latest.Error,
		FirstAttemptAt:    logstore.Truncate(first.StartedAt),
		LastAttemptAt:     logstore.Truncate(latest.StartedAt),
		NextAttemptAt:     truncPtr(latest.NextAttemptAt),
		WebhookStatusCode: latest.WebhookStatusCode,
		WebhookResponse:   latest.WebhookResponse,
		WebhookSuccess:    latest.WebhookSuccess,
	}
}

// roundOf returns the round made of the attempts recs (of one round, in
// any order), not superseded.
func roundOf(recs ...*envelope.AttemptRecord) logstore.Round {
	byAttempt := slices.SortedFunc(slices.Values(recs), func(a, b *envelope.AttemptRecord) int {
		return cmp.Compare(a.Attempt, b.Attempt)
	})
	first := slices.MinFunc(recs, func(a, b *envelope.AttemptRecord) int { return a.StartedAt.Compare(b.StartedAt) })
	r := logstore.Round{Delivery: deliveryOf(first, byAttempt[len(byAttempt)-1])}
	for _, a := range byAttempt {
		r.AttemptList = append(r.AttemptList, attemptOf(a))
	}
	return r
}

// superseded returns r marked superseded by a later replay.
func superseded(r logstore.Round) logstore.Round {
	r.Superseded = true
	return r
}

// timelineOf returns the timeline of rounds (by replay).
func timelineOf(rounds ...logstore.Round) *logstore.Timeline {
	return &logstore.Timeline{EventID: rounds[0].EventID, OrgID: rounds[0].OrgID, Rounds: rounds}
}

func truncPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := logstore.Truncate(*t)
	return &u
}

// Batch returns n distinct delivered records, the i-th batch of a load
// (event ids unique across batches), queued at now: for benchmarks.
func Batch(now time.Time, i, n int) []*envelope.AttemptRecord {
	out := make([]*envelope.AttemptRecord, n)
	for j := range out {
		out[j] = Record("org_bench", fmt.Sprintf("e%d-%d", i, j), now)
	}
	return out
}
