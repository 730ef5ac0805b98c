package envelope

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// compactFile reads a testdata file copied from the product page and
// compacts it: the encoder must produce exactly these bytes, in this order.
func compactFile(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatalf("compact %s: %v", name, err)
	}
	return buf.Bytes()
}

func TestJobBodyMatchesProductExamples(t *testing.T) {
	tests := []struct {
		name string
		file string
		job  JobResult
	}{
		{
			name: "completed",
			file: "job_completed.json",
			job: JobResult{
				TaskID: "550e8400-e29b-41d4-a716-446655440000", Status: StatusCompleted, TaskType: "find_email",
				Result: json.RawMessage(`{"name": "John Doe", "company": "Acme Inc", "email": [["john.doe@acme.com", "OK"]]}`),
			},
		},
		{
			name: "failed",
			file: "job_failed.json",
			job: JobResult{
				TaskID: "550e8400-e29b-41d4-a716-446655440000", Status: StatusFailed, TaskType: "find_email",
				Error: "Error message describing what went wrong",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.job.Body()
			if err != nil {
				t.Fatal(err)
			}
			if want := compactFile(t, tt.file); !bytes.Equal(got, want) {
				t.Errorf("body\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestWorkflowEnvelopeMatchesProductExample(t *testing.T) {
	sent := time.Date(2026, 4, 22, 20, 0, 0, 0, time.UTC)
	link := "https://...signed-csv-url..."
	run := WorkflowRun{
		WorkflowID: "wf_abc123", RunID: "run_xyz789", RowCount: 95,
		PreviousBlockID: "blk_2", PreviousBlockName: "lead_enrichment", PreviousBlockNumber: 2,
		StartedAt:          sent.Add(-1234 * time.Millisecond),
		ResultsDownloadURL: &link,
		Results:            json.RawMessage(`[{ "name": "John Doe", "email": "john@acme.com" }]`),
	}
	env := run.Envelope("f7c2a4e0-9b5d-4a1f-8d2c-1e3b5f7a9c0d", "org_456", time.Time{}, 1, sent)
	got, err := env.Body()
	if err != nil {
		t.Fatal(err)
	}
	if want := compactFile(t, "workflow_run.json"); !bytes.Equal(got, want) {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}

func TestWorkflowEnvelopeNullsWhenAbsent(t *testing.T) {
	created := time.Date(2026, 4, 22, 20, 0, 0, 0, time.UTC)
	run := WorkflowRun{WorkflowID: "wf", RunID: "run", PreviousBlockID: "b", PreviousBlockName: "n", PreviousBlockNumber: 1}
	env := run.Envelope("f7c2a4e0-9b5d-4a1f-8d2c-1e3b5f7a9c0d", "org", created, 3, created.Add(2500*time.Millisecond))
	got, err := env.Body()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"event_id":"f7c2a4e0-9b5d-4a1f-8d2c-1e3b5f7a9c0d","event":"outgoing_webhook.completed","status":"success",` +
		`"workflow_id":"wf","run_id":"run","organization_id":"org","row_count":0,"previous_block_id":"b",` +
		`"previous_block_name":"n","previous_block_number":1,"completed_at":"2026-04-22T20:00:02Z","duration_ms":2500,` +
		`"attempt":3,"results_download_url":null,"results":null}`
	if string(got) != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}

func TestBodyDoesNotEscapeHTML(t *testing.T) {
	j := JobResult{TaskID: "t", Status: StatusFailed, TaskType: "find_email", Error: "a <b> & c"}
	got, err := j.Body()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"task_id":"t","status":"failed","task_type":"find_email","error":"a <b> & c"}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestRequestBodyPerAttempt(t *testing.T) {
	raw, err := os.ReadFile("testdata/request_workflow.json")
	if err != nil {
		t.Fatal(err)
	}
	req, err := Decode(raw, URLPolicy{})
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	start := req.Workflow.StartedAt
	for attempt := 1; attempt <= 6; attempt++ {
		sent := start.Add(time.Duration(attempt) * time.Second)
		body, err := req.Body(attempt, sent)
		if err != nil {
			t.Fatal(err)
		}
		var env WorkflowEnvelope
		if err := json.Unmarshal(body, &env); err != nil {
			t.Fatal(err)
		}
		if env.Attempt != attempt || env.DurationMS != int64(attempt)*1000 || env.CompletedAt != sent.UTC().Format(CompletedAtLayout) {
			t.Errorf("attempt %d: got attempt=%d duration_ms=%d completed_at=%s", attempt, env.Attempt, env.DurationMS, env.CompletedAt)
		}
		if env.EventID != req.EventID || env.OrganizationID != req.OrgID {
			t.Errorf("attempt %d: event_id/organization_id = %s/%s", attempt, env.EventID, env.OrganizationID)
		}
	}
}
