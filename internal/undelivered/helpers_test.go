package undelivered

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// env is one test's JetStream server with the pipeline's streams.
type env struct {
	t   *testing.T
	ctx context.Context
	js  jetstream.JetStream
	sc  streams.Config
	res *streams.Resources
}

func newEnv(t *testing.T) *env {
	t.Helper()
	_, js, res := jstest.Pipeline(t, streams.Config{})
	ctx := jstest.Context(t, 30*time.Second)
	sc := streams.Config{}.WithDefaults()
	return &env{t: t, ctx: ctx, js: js, sc: sc, res: res}
}

// event describes a dead letter to write.
type event struct {
	org      string
	workflow bool
	taskType string
	host     string
	url      string // overrides https://<host>/hooks?token=x
	replay   int
}

// deadLetter writes an undelivered message the way the deliverer does:
// body = the encoded request, Sixtyfour-Failure = the failure record, one
// subject per event. It returns the request and its exact bytes.
func (e *env) deadLetter(ev event) (*envelope.Request, []byte) {
	e.t.Helper()
	now := time.Now()
	url := "https://" + ev.host + "/hooks?token=x"
	if ev.url != "" {
		url = ev.url
	}
	var req *envelope.Request
	var err error
	if ev.workflow {
		run := envelope.WorkflowRun{WorkflowID: "wf_1", RunID: "run_" + strconv.FormatInt(now.UnixNano(), 36), RowCount: 1,
			PreviousBlockID: "blk_2", PreviousBlockName: "lead_enrichment", PreviousBlockNumber: 2, Results: []byte(`[{"a":1}]`)}
		req, err = envelope.NewWorkflowRequest(now, ev.org, url, run, envelope.Block{TimeoutSeconds: 30})
	} else {
		tt := ev.taskType
		if tt == "" {
			tt = "find_email"
		}
		job := envelope.JobResult{TaskID: "task_" + strconv.FormatInt(now.UnixNano(), 36), Status: envelope.StatusCompleted,
			TaskType: tt, Result: []byte(`{"email":"x@example.com"}`)}
		req, err = envelope.NewJobRequest(now, ev.org, url, job)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	body, err := req.Encode()
	if err != nil {
		e.t.Fatal(err)
	}
	failure := &envelope.Outcome{V: 1, EventID: req.EventID, OrgID: req.OrgID, Source: req.Source, EventType: req.EventType,
		Host: req.Host(), State: envelope.StateUndelivered, Final: true, Attempts: 6, StatusCode: 503,
		Error: "attempts exhausted after 6 attempts: HTTP 503", QueuedAt: now.UTC(), FirstAttemptAt: now.UTC(),
		LastAttemptAt: now.UTC(), Replay: ev.replay}
	if req.Job != nil {
		failure.TaskID = req.Job.TaskID
	} else {
		failure.RunID = req.Workflow.RunID
	}
	failure.SetBlockColumns()
	jstest.WriteUndelivered(e.ctx, e.t, e.js, e.sc, body, failure)
	return req, body
}

// undeliveredIDs returns the event ids in the undelivered stream, sorted.
func (e *env) undeliveredIDs() []string {
	e.t.Helper()
	entries, err := List(e.ctx, e.js, e.sc, Filter{}, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return entryIDs(entries)
}

// delivered returns every message on WEBHOOKS (nobody consumes it in these
// tests), read by sequence.
func (e *env) delivered() []*jetstream.RawStreamMsg {
	e.t.Helper()
	info, err := e.res.Deliver.Info(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := e.res.Deliver.GetMsg(e.ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// deliveredIDs returns the event ids of the WEBHOOKS messages, sorted,
// repeats included.
func (e *env) deliveredIDs() []string {
	e.t.Helper()
	var ids []string
	for _, m := range e.delivered() {
		req, err := envelope.Decode(m.Data, envelope.URLPolicy{})
		if err != nil {
			e.t.Fatalf("WEBHOOKS message %d: %v", m.Sequence, err)
		}
		ids = append(ids, req.EventID)
	}
	sort.Strings(ids)
	return ids
}

func entryIDs(entries []Entry) []string {
	ids := make([]string, len(entries))
	for i := range entries {
		ids[i] = entries[i].EventID()
	}
	sort.Strings(ids)
	return ids
}

func ids(reqs ...*envelope.Request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.EventID
	}
	sort.Strings(out)
	return out
}
