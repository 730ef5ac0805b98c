package status

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/sqlitestore"
	"github.com/sixtyfour-oss/webhooks/internal/logwriter"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

type env struct {
	t     *testing.T
	ctx   context.Context
	js    jetstream.JetStream
	sc    streams.Config
	store logstore.Store
	n     int // events made so far; orders their QueuedAt
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := newBareEnv(t)
	if _, err := streams.Ensure(e.ctx, e.js, e.sc); err != nil {
		t.Fatal(err)
	}
	return e
}

// newBareEnv is newEnv on a server where no stream exists yet.
func newBareEnv(t *testing.T) *env {
	t.Helper()
	s := jstest.Server(t)
	_, js := jstest.Connect(t, s)
	ctx := jstest.Context(t, 30*time.Second)
	sc := streams.Config{}.WithDefaults()
	store, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "log.db"), logstore.Options{Retention: 100 * 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &env{t: t, ctx: ctx, js: js, sc: sc, store: store}
}

// outcome returns a record as the deliverer writes it: a job event when
// taskID is set, else a workflow event of runID.
func (e *env) outcome(org, taskID, runID, state string) *envelope.Outcome {
	e.n++
	now := time.Date(2026, 5, 1, 10, 0, e.n, 0, time.UTC)
	id, _ := envelope.NewEventID()
	o := &envelope.Outcome{V: 1, EventID: id, OrgID: org, Source: envelope.SourceJob, EventType: "find_email",
		TaskID: taskID, Host: "hooks.example.com", State: state, Final: state != envelope.StateRetrying,
		Success: state == envelope.StateDelivered, Attempts: 3, StatusCode: 200, ResponseExcerpt: "ok",
		QueuedAt: now, FirstAttemptAt: now.Add(time.Second), LastAttemptAt: now.Add(4 * time.Second)}
	if runID != "" {
		o.Source, o.EventType, o.TaskID, o.RunID, o.WorkflowID = envelope.SourceWorkflow, envelope.WorkflowEventType, "", runID, "wf_1"
	}
	switch state {
	case envelope.StateRetrying:
		next := now.Add(10 * time.Second)
		o.NextAttemptAt, o.StatusCode, o.Error = &next, 503, "HTTP 503"
	case envelope.StateUndelivered:
		o.StatusCode, o.Error, o.Attempts = 500, "attempts exhausted after 6 attempts: HTTP 500", 6
	}
	o.SetBlockColumns()
	return o
}

// record writes the event's last attempt to the delivery log (when
// inLog), and for an undelivered one the dead letter too.
func (e *env) record(o *envelope.Outcome, inLog bool) *envelope.Outcome {
	e.t.Helper()
	if inLog {
		r, err := logwriter.RecordFromOutcome(o)
		if err != nil {
			e.t.Fatal(err)
		}
		r.StartedAt = o.FirstAttemptAt
		if err := e.store.Write(e.ctx, []*envelope.AttemptRecord{r}); err != nil {
			e.t.Fatal(err)
		}
	}
	if o.State == envelope.StateUndelivered {
		jstest.WriteUndelivered(e.ctx, e.t, e.js, e.sc, []byte(`{"v":1}`), o)
	}
	return o
}

// deadLetter stores a replayable undelivered job event of org: a valid
// request on its undelivered subject with its failure record, and its last
// attempt in the delivery log.
func (e *env) deadLetter(org string) *envelope.Outcome {
	e.t.Helper()
	o := e.outcome(org, "task_replayed", "", envelope.StateUndelivered)
	req, err := envelope.NewJobRequest(o.QueuedAt, org, "https://hooks.example.com/hook", envelope.JobResult{
		TaskID: o.TaskID, Status: envelope.StatusCompleted, TaskType: "find_email", Result: []byte(`{"email":"x@example.com"}`)})
	if err != nil {
		e.t.Fatal(err)
	}
	o.EventID = req.EventID
	body, err := req.Encode()
	if err != nil {
		e.t.Fatal(err)
	}
	e.write(o)
	jstest.WriteUndelivered(e.ctx, e.t, e.js, e.sc, body, o)
	return o
}

// write stores o's last attempt in the delivery log, as the log writer does.
func (e *env) write(o *envelope.Outcome) {
	e.t.Helper()
	r, err := logwriter.RecordFromOutcome(o)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.Write(e.ctx, []*envelope.AttemptRecord{r}); err != nil {
		e.t.Fatal(err)
	}
}

// asOperator serves h to every request as an operator, the Principal that
// apitoken's Require would put in the context of an operator's request.
func asOperator(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(apitoken.WithPrincipal(r.Context(), apitoken.Principal{Name: "test", Scope: apitoken.ScopeOperator})))
	})
}
