package publish_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/results"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// resultsEnv is a server with the streams and the results bucket.
type resultsEnv struct {
	js    jetstream.JetStream
	res   *streams.Resources
	store jetstream.ObjectStore
}

func newResultsEnv(t *testing.T) resultsEnv {
	t.Helper()
	s := jstest.Server(t)
	_, js := jstest.Connect(t, s)
	ctx := jstest.Context(t, 10*time.Second)
	res, err := streams.Ensure(ctx, js, streams.Config{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := js.CreateOrUpdateObjectStore(ctx, results.BucketConfig("", 1))
	if err != nil {
		t.Fatal(err)
	}
	return resultsEnv{js: js, res: res, store: store}
}

func (e resultsEnv) publisher(store jetstream.ObjectStore, limit int) *publish.Publisher {
	return publish.New(e.js, publish.Config{Resolver: publicResolver{}, Results: store, InlineResultsLimit: limit})
}

// stored reads back the request a receipt points to.
func (e resultsEnv) stored(t *testing.T, r publish.Receipt) *envelope.WorkflowRun {
	t.Helper()
	msg, err := e.res.Deliver.GetMsg(jstest.Context(t, 5*time.Second), r.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	req, err := envelope.Decode(msg.Data, envelope.URLPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	return req.Workflow
}

// rows returns a compact JSON array of n rows of about rowSize bytes each.
func rows(n, rowSize int) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"n":` + strconv.Itoa(i) + `,"pad":"` + strings.Repeat("x", rowSize) + `"}`)
	}
	b.WriteByte(']')
	return b.Bytes()
}

func run(rows json.RawMessage, count int) envelope.WorkflowRun {
	return envelope.WorkflowRun{WorkflowID: "wf_1", RunID: "run_1", RowCount: count, PreviousBlockID: "blk_2",
		PreviousBlockName: "lead_enrichment", PreviousBlockNumber: 2, Results: rows}
}

func TestResultsInlineOrStored(t *testing.T) {
	e := newResultsEnv(t)
	ctx := jstest.Context(t, 30*time.Second)
	small := rows(3, 10)
	large := rows(300, 1<<10) // about 300 KiB
	pretty := json.RawMessage("[\n  {\"a\": 1},\n  {\"a\": 2}\n]")
	tests := []struct {
		name       string
		store      jetstream.ObjectStore
		limit      int
		run        envelope.WorkflowRun
		wantInline json.RawMessage // nil: results null
		wantObject string
		wantStored json.RawMessage // nil: nothing stored under RowsKey
	}{
		{"small stays inline", e.store, 0, run(small, 3), small, "", nil},
		{"no results", e.store, 0, run(nil, 95), nil, "", nil},
		{"large goes to the store", e.store, 0, run(large, 300), nil, results.RowsKey("org_1", "run_1"), large},
		{"limit is configurable, stored compact", e.store, 10, run(pretty, 2), nil, results.RowsKey("org_1", "run_1"), json.RawMessage(`[{"a":1},{"a":2}]`)},
		{"csv link with small rows", e.store, 0, func() envelope.WorkflowRun {
			r := run(small, 3)
			r.IncludeCSVDownloadLink = true
			return r
		}(), small, results.CSVKey("org_1", "run_1", "blk_2"), nil},
		{"csv link carries large rows", nil, 0, func() envelope.WorkflowRun {
			r := run(large, 300)
			r.IncludeCSVDownloadLink = true
			return r
		}(), nil, results.CSVKey("org_1", "run_1", "blk_2"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.store.Delete(ctx, results.RowsKey("org_1", "run_1")); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
				t.Fatal(err)
			}
			r := tt.run
			receipt, err := e.publisher(tt.store, tt.limit).PublishWorkflow(ctx, "org_1", "https://hooks.example.com/x", r, envelope.Block{})
			if err != nil {
				t.Fatal(err)
			}
			got := e.stored(t, receipt)
			if !bytes.Equal(got.Results, tt.wantInline) && !(tt.wantInline == nil && (len(got.Results) == 0 || string(got.Results) == "null")) {
				t.Errorf("published results = %.60s..., want %.60s...", got.Results, tt.wantInline)
			}
			if got.ResultsObject != tt.wantObject {
				t.Errorf("results_object = %q, want %q", got.ResultsObject, tt.wantObject)
			}
			if got.RowCount != tt.run.RowCount {
				t.Errorf("row_count = %d, want %d", got.RowCount, tt.run.RowCount)
			}
			data, err := e.store.GetBytes(ctx, results.RowsKey("org_1", "run_1"))
			switch {
			case tt.wantStored == nil && !errors.Is(err, jetstream.ErrObjectNotFound):
				t.Errorf("rows stored (%d bytes, %v), want none", len(data), err)
			case tt.wantStored != nil && !bytes.Equal(data, tt.wantStored):
				t.Errorf("stored object = %d bytes (%v), want the %d bytes of rows", len(data), err, len(tt.wantStored))
			}
			if tt.wantStored != nil {
				info, err := e.store.GetInfo(ctx, results.RowsKey("org_1", "run_1"))
				if err != nil || info.Headers.Get("Content-Type") != "application/json" {
					t.Errorf("stored object info = %+v, %v; want Content-Type application/json", info, err)
				}
			}
		})
	}
}

func TestResultsRefused(t *testing.T) {
	e := newResultsEnv(t)
	ctx := jstest.Context(t, 30*time.Second)
	tests := []struct {
		name      string
		store     jetstream.ObjectStore
		run       envelope.WorkflowRun
		field     string
		wantInMsg string
	}{
		{"row_count too low", e.store, run(rows(3, 1), 2), "workflow.row_count", "must equal the number of rows in results (3)"},
		{"row_count too high", e.store, run(rows(3, 1), 95), "workflow.row_count", "(3)"},
		{"empty array", e.store, run(json.RawMessage(`[]`), 1), "workflow.row_count", "(0)"},
		{"large without a store", nil, run(rows(300, 1<<10), 300), "workflow.results", "no results store is configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := e.publisher(tt.store, 0)
			req, err := envelope.NewWorkflowRequest(time.Now(), "org_1", "https://hooks.example.com/x", tt.run, envelope.Block{})
			if err != nil {
				t.Fatal(err)
			}
			for name, err := range map[string]error{"Check": p.Check(ctx, req), "Publish": func() error { _, err := p.Publish(ctx, req); return err }()} {
				var ve *envelope.ValidationError
				if !errors.As(err, &ve) || ve.Fields[0].Field != tt.field || !strings.Contains(ve.Fields[0].Message, tt.wantInMsg) {
					t.Errorf("%s error = %v, want %s: ...%s", name, err, tt.field, tt.wantInMsg)
				}
			}
		})
	}
	info, err := e.res.Deliver.Info(ctx)
	if err != nil || info.State.Msgs != 0 {
		t.Errorf("stream holds %d messages after refused publishes (%v)", info.State.Msgs, err)
	}
}

// TestResultsRequestUnchanged: Publish works on a copy, so a retried
// request is the caller's and the retry stores nothing twice.
func TestResultsRequestUnchanged(t *testing.T) {
	e := newResultsEnv(t)
	ctx := jstest.Context(t, 30*time.Second)
	large := rows(300, 1<<10)
	req, err := envelope.NewWorkflowRequest(time.Now(), "org_1", "https://hooks.example.com/x", run(large, 300), envelope.Block{})
	if err != nil {
		t.Fatal(err)
	}
	p := e.publisher(e.store, 0)
	first, err := p.Publish(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(req.Workflow.Results, large) || req.Workflow.ResultsObject != "" {
		t.Errorf("Publish modified the caller's request: results_object %q", req.Workflow.ResultsObject)
	}
	again, err := p.Publish(ctx, req)
	if err != nil || !again.Duplicate || again.Sequence != first.Sequence {
		t.Errorf("retry = %+v, %v; want the duplicate of %+v", again, err, first)
	}
}
