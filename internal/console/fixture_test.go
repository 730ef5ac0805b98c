package console_test

import (
	"fmt"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// hostile is a response excerpt that must be shown as text.
const hostile = "<script>alert(1)</script>"

// Marks of org_b's data: none may appear on an org_a page.
const (
	orgBHost      = "b-only.example.com"
	orgBEventType = "org_b_private_type"
)

// fixture is the log and undelivered stream of most tests: org_a has a
// delivered job, a workflow run and an undelivered job (with a hostile
// excerpt); org_b a delivered and an undelivered job on its own host.
type fixture struct {
	aDelivered, aWorkflow, aUndelivered string
	bDelivered, bUndelivered            string
}

// attempt returns attempt n of round 0 of a job event queued at queued,
// ending in decision with HTTP status.
func attempt(org, id, host, eventType string, queued time.Time, n int, decision string, status int) *envelope.AttemptRecord {
	q := logstore.Truncate(queued)
	start := q.Add(time.Duration(n) * time.Minute)
	r := &envelope.AttemptRecord{
		V: 1, EventID: id, OrgID: org, Source: envelope.SourceJob, EventType: eventType, TaskID: "task-" + id,
		Host: host, Attempt: n, QueuedAt: q, StartedAt: start, FinishedAt: start.Add(150 * time.Millisecond),
		DurationMS: 148.25, Sent: true, StatusCode: status, ResponseExcerpt: "ok", Decision: decision,
		State: envelope.StateOf(decision),
	}
	r.Final = r.State != envelope.StateRetrying
	if decision != envelope.DecisionDelivered {
		r.ResponseExcerpt, r.ErrorClass, r.Error = fmt.Sprintf("status %d", status), "response", fmt.Sprintf("HTTP %d", status)
	}
	if decision == envelope.DecisionRetry {
		next := r.FinishedAt.Add(30 * time.Second)
		r.RetryDelayMS, r.RetryDelayFrom, r.NextAttemptAt = 30_000, "retry_after", &next
	}
	return r
}

// write stores records in the log.
func (e *env) write(recs ...*envelope.AttemptRecord) {
	e.t.Helper()
	if err := e.store.Write(e.ctx, recs); err != nil {
		e.t.Fatal(err)
	}
}

// deadLetter puts event id of org on the undelivered stream as the
// deliverer does: the request as body, the failure record as header.
func (e *env) deadLetter(org, id, host, eventType, excerpt string) {
	e.t.Helper()
	now := e.clock.Now()
	job := envelope.JobResult{TaskID: "task-" + id, Status: envelope.StatusCompleted, TaskType: eventType, Result: []byte(`{"email":"x@example.com"}`)}
	req, err := envelope.NewJobRequest(now, org, "https://"+host+"/in?token=receiver-secret", job)
	if err != nil {
		e.t.Fatal(err)
	}
	req.EventID = id
	body, err := req.Encode()
	if err != nil {
		e.t.Fatal(err)
	}
	failure := &envelope.Outcome{V: 1, EventID: id, OrgID: org, Source: envelope.SourceJob, EventType: eventType, TaskID: job.TaskID,
		Host: host, State: envelope.StateUndelivered, Final: true, Attempts: 2, StatusCode: 500, ResponseExcerpt: excerpt,
		Error: "attempts exhausted after 2 attempts: HTTP 500", QueuedAt: now, FirstAttemptAt: now, LastAttemptAt: now}
	jstest.WriteUndelivered(e.ctx, e.t, e.js, e.sc, body, failure)
}

// fixture writes the standard data.
func (e *env) fixture() fixture {
	e.t.Helper()
	q := e.clock.Now().Add(-10 * time.Minute)
	fx := fixture{aDelivered: newEventID(e.t), aWorkflow: newEventID(e.t), aUndelivered: newEventID(e.t),
		bDelivered: newEventID(e.t), bUndelivered: newEventID(e.t)}
	wf := attempt("org_a", fx.aWorkflow, "hooks.example.com", envelope.WorkflowEventType, q, 1, envelope.DecisionDelivered, 200)
	wf.Source, wf.TaskID, wf.RunID, wf.WorkflowID = envelope.SourceWorkflow, "", "run-1", "wf-1"
	wf.ResponseExcerpt = `{"accepted":true}`
	wf.SetBlockColumns()
	last := attempt("org_a", fx.aUndelivered, "hooks.example.com", "enrich_lead", q, 2, envelope.DecisionUndelivered, 500)
	last.ResponseExcerpt = hostile
	e.write(
		attempt("org_a", fx.aDelivered, "hooks.example.com", "enrich_lead", q, 1, envelope.DecisionDelivered, 200),
		wf,
		attempt("org_a", fx.aUndelivered, "hooks.example.com", "enrich_lead", q, 1, envelope.DecisionRetry, 503),
		last,
		attempt("org_b", fx.bDelivered, orgBHost, orgBEventType, q, 1, envelope.DecisionDelivered, 200),
		attempt("org_b", fx.bUndelivered, orgBHost, orgBEventType, q, 1, envelope.DecisionUndelivered, 500),
	)
	e.deadLetter("org_a", fx.aUndelivered, "hooks.example.com", "enrich_lead", hostile)
	e.deadLetter("org_b", fx.bUndelivered, orgBHost, orgBEventType, "status 500")
	return fx
}
