package ingest_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

func TestPostStoresEvent(t *testing.T) {
	tests := []struct {
		name string
		body string
		want envelope.Request // EventID filled from the response
	}{
		{"job", jobBody, envelope.Request{
			V: 1, OrgID: "org_1", Source: envelope.SourceJob, EventType: "find_email",
			URL: "https://127.0.0.1:9/hook", CreatedAt: fixedNow,
			Job: &envelope.JobResult{TaskID: "t-1", Status: "completed", TaskType: "find_email", Result: json.RawMessage(`{"email":"a@b.co"}`)},
		}},
		{"workflow", workflowBody, envelope.Request{
			V: 1, OrgID: "org_1", Source: envelope.SourceWorkflow, EventType: envelope.WorkflowEventType,
			URL: "https://127.0.0.1:9/wf", Headers: map[string]string{"X-Api-Key": "k1"}, TimeoutSeconds: 30, CreatedAt: fixedNow,
			Workflow: &envelope.WorkflowRun{
				WorkflowID: "wf_1", RunID: "run_1", RowCount: 2, PreviousBlockID: "b_1",
				PreviousBlockName: "lead_enrichment", PreviousBlockNumber: 3,
				StartedAt: time.Date(2026, 4, 22, 19, 59, 0, 0, time.UTC),
				Results:   json.RawMessage(`[{"a":1},{"a":2}]`),
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, options{})
			resp := e.post(bearer, tt.body)
			if resp.status != http.StatusAccepted {
				t.Fatalf("status = %d, want 202: %s", resp.status, resp.raw)
			}
			id, _ := resp.body["event_id"].(string)
			if resp.body["duplicate"] != false || id == "" {
				t.Fatalf("body = %s, want an event_id and duplicate false", resp.raw)
			}
			if got := e.count(); got != 1 {
				t.Fatalf("stream holds %d messages, want 1", got)
			}
			got, msgID := e.stored(1)
			if msgID != id {
				t.Errorf("Nats-Msg-Id = %q, want the event id %q", msgID, id)
			}
			want := tt.want
			want.EventID = id
			if !got.CreatedAt.Equal(want.CreatedAt) {
				t.Errorf("created_at = %v, want %v", got.CreatedAt, want.CreatedAt)
			}
			got.CreatedAt, want.CreatedAt = time.Time{}, time.Time{}
			if got.Workflow != nil && want.Workflow != nil && got.Workflow.StartedAt.Equal(want.Workflow.StartedAt) {
				got.Workflow.StartedAt, want.Workflow.StartedAt = time.Time{}, time.Time{}
			}
			if !reflect.DeepEqual(got, &want) {
				t.Errorf("stored request =\n%+v\nwant\n%+v", got, &want)
			}
		})
	}
}

func TestPostIdempotent(t *testing.T) {
	e := newEnv(t, options{})
	const id = "6f1c2a4e-8b7d-4c3e-9a1f-2b3c4d5e6f70"
	body := `{"event_id":"` + id + `",` + strings.TrimPrefix(jobBody, "{")
	for i, wantDup := range []bool{false, true} {
		resp := e.post(bearer, body)
		if resp.status != http.StatusAccepted {
			t.Fatalf("post %d: status = %d, want 202: %s", i+1, resp.status, resp.raw)
		}
		if resp.body["event_id"] != id || resp.body["duplicate"] != wantDup {
			t.Errorf("post %d: body = %s, want event_id %s and duplicate %v", i+1, resp.raw, id, wantDup)
		}
	}
	if got := e.count(); got != 1 {
		t.Errorf("stream holds %d messages, want 1", got)
	}
	if _, msgID := e.stored(1); msgID != id {
		t.Errorf("Nats-Msg-Id = %q, want %q", msgID, id)
	}
}

func TestPostRejectsWithoutStoring(t *testing.T) {
	e := newEnv(t, options{maxBody: 1 << 20})
	huge := `{"org_id":"org_1","source":"job","url":"https://127.0.0.1/","job":{"task_id":"t","status":"failed","task_type":"x","error":"` +
		strings.Repeat("e", 2<<20) + `"}}`
	tests := []struct {
		name       string
		auth, body string
		wantStatus int
		wantError  string
	}{
		{"no token", "", jobBody, 401, "unauthorized"},
		{"wrong token", "Bearer nope", jobBody, 401, "unauthorized"},
		{"token prefix", "Bearer " + token[:5], jobBody, 401, "unauthorized"},
		{"basic scheme", "Basic " + token, jobBody, 401, "unauthorized"},
		{"empty bearer", "Bearer ", jobBody, 401, "unauthorized"},
		{"auth before body", "", huge, 401, "unauthorized"},
		{"body over limit", bearer, huge, 413, "payload_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.post(tt.auth, tt.body)
			if resp.status != tt.wantStatus || resp.body["error"] != tt.wantError {
				t.Fatalf("got %d %s, want %d %s", resp.status, resp.raw, tt.wantStatus, tt.wantError)
			}
			if tt.wantStatus == 401 && resp.header.Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("WWW-Authenticate = %q, want Bearer", resp.header.Get("WWW-Authenticate"))
			}
			if tt.wantStatus == 413 && resp.body["message"] != "request body exceeds 1048576 bytes" {
				t.Errorf("message = %v", resp.body["message"])
			}
			if got := e.count(); got != 0 {
				t.Errorf("stream holds %d messages, want 0", got)
			}
		})
	}
}
