package envelope

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// mutate decodes a testdata request into a generic map, applies f, and
// re-encodes it, so each case states only what it changes.
func mutate(t *testing.T, file string, f func(m map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sub(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }

func TestDecodeValidRequests(t *testing.T) {
	for _, file := range []string{"request_job.json", "request_workflow.json"} {
		t.Run(file, func(t *testing.T) {
			raw, _ := os.ReadFile("testdata/" + file)
			req, err := Decode(raw, URLPolicy{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			// Encode then decode again: the round trip keeps every field.
			enc, err := req.Encode()
			if err != nil {
				t.Fatal(err)
			}
			again, err := Decode(enc, URLPolicy{})
			if err != nil {
				t.Fatalf("Decode(Encode()): %v\n%s", err, enc)
			}
			b1, _ := req.Body(2, time.Unix(1776888000, 0))
			b2, _ := again.Body(2, time.Unix(1776888000, 0))
			if string(b1) != string(b2) {
				t.Errorf("round trip changed the body:\n%s\n%s", b1, b2)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name      string
		data      []byte
		wantErr   error
		wantField string // for *ValidationError: a field that must be named
	}{
		{name: "not json", data: []byte(`{"v":1,`), wantErr: ErrMalformed},
		{name: "array", data: []byte(`[1]`), wantErr: ErrMalformed},
		{name: "trailing data", data: append(mutate(t, "request_job.json", func(map[string]any) {}), []byte(`{}`)...), wantErr: ErrMalformed},
		{name: "unknown field", data: mutate(t, "request_job.json", func(m map[string]any) { m["timeout_second"] = 3 }), wantErr: ErrMalformed},
		{name: "wrong type", data: mutate(t, "request_job.json", func(m map[string]any) { m["org_id"] = 5 }), wantErr: ErrMalformed},
		{name: "missing version", data: mutate(t, "request_job.json", func(m map[string]any) { delete(m, "v") }), wantErr: ErrInvalid, wantField: "v"},
		{name: "unknown version", data: mutate(t, "request_job.json", func(m map[string]any) { m["v"] = 2 }), wantErr: ErrUnknownVersion},
		{name: "missing event id", data: mutate(t, "request_job.json", func(m map[string]any) { delete(m, "event_id") }), wantErr: ErrInvalid, wantField: "event_id"},
		{name: "bad event id", data: mutate(t, "request_job.json", func(m map[string]any) { m["event_id"] = "evt_1" }), wantErr: ErrInvalid, wantField: "event_id"},
		{name: "upper-case event id", data: mutate(t, "request_job.json", func(m map[string]any) { m["event_id"] = "0B7E2F7C-3C1A-4C55-9A43-1F2D3E4C5B6A" }), wantErr: ErrInvalid, wantField: "event_id"},
		{name: "missing org", data: mutate(t, "request_job.json", func(m map[string]any) { delete(m, "org_id") }), wantErr: ErrInvalid, wantField: "org_id"},
		{name: "org with dot", data: mutate(t, "request_job.json", func(m map[string]any) { m["org_id"] = "org.1" }), wantErr: ErrInvalid, wantField: "org_id"},
		{name: "org too long", data: mutate(t, "request_job.json", func(m map[string]any) { m["org_id"] = strings.Repeat("a", 65) }), wantErr: ErrInvalid, wantField: "org_id"},
		{name: "bad source", data: mutate(t, "request_job.json", func(m map[string]any) { m["source"] = "cron" }), wantErr: ErrInvalid, wantField: "source"},
		{name: "missing created_at", data: mutate(t, "request_job.json", func(m map[string]any) { delete(m, "created_at") }), wantErr: ErrInvalid, wantField: "created_at"},
		{name: "http url", data: mutate(t, "request_job.json", func(m map[string]any) { m["url"] = "http://example.com/" }), wantErr: ErrInvalid, wantField: "url"},
		{name: "ftp url", data: mutate(t, "request_job.json", func(m map[string]any) { m["url"] = "ftp://example.com/" }), wantErr: ErrInvalid, wantField: "url"},
		{name: "relative url", data: mutate(t, "request_job.json", func(m map[string]any) { m["url"] = "/hooks" }), wantErr: ErrInvalid, wantField: "url"},
		{name: "userinfo", data: mutate(t, "request_job.json", func(m map[string]any) { m["url"] = "https://user:pw@example.com/" }), wantErr: ErrInvalid, wantField: "url"},
		{name: "url too long", data: mutate(t, "request_job.json", func(m map[string]any) { m["url"] = "https://example.com/" + strings.Repeat("a", 2064) }), wantErr: ErrInvalid, wantField: "url"},
		{name: "url with space", data: mutate(t, "request_job.json", func(m map[string]any) { m["url"] = "https://example.com/a b" }), wantErr: ErrInvalid, wantField: "url"},
		{name: "url zone", data: mutate(t, "request_job.json", func(m map[string]any) { m["url"] = "https://[fe80::1%25lo]/" }), wantErr: ErrInvalid, wantField: "url"},
		{name: "url bad host", data: mutate(t, "request_job.json", func(m map[string]any) { m["url"] = "https://a<b>.example/" }), wantErr: ErrInvalid, wantField: "url"},
		{name: "url bad port", data: mutate(t, "request_job.json", func(m map[string]any) { m["url"] = "https://example.com:70000/" }), wantErr: ErrInvalid, wantField: "url"},
		{name: "event type mismatch", data: mutate(t, "request_job.json", func(m map[string]any) { m["event_type"] = "find_phone" }), wantErr: ErrInvalid, wantField: "event_type"},
		{name: "job missing", data: mutate(t, "request_job.json", func(m map[string]any) { delete(m, "job") }), wantErr: ErrInvalid, wantField: "job"},
		{name: "job bad status", data: mutate(t, "request_job.json", func(m map[string]any) { sub(m, "job")["status"] = "cancelled" }), wantErr: ErrInvalid, wantField: "job.status"},
		{name: "job bad task type", data: mutate(t, "request_job.json", func(m map[string]any) {
			sub(m, "job")["task_type"] = "Find-Email"
			m["event_type"] = "Find-Email"
		}), wantErr: ErrInvalid, wantField: "job.task_type"},
		{name: "job completed without result", data: mutate(t, "request_job.json", func(m map[string]any) { delete(sub(m, "job"), "result") }), wantErr: ErrInvalid, wantField: "job.result"},
		{name: "job result not object", data: mutate(t, "request_job.json", func(m map[string]any) { sub(m, "job")["result"] = []int{1} }), wantErr: ErrInvalid, wantField: "job.result"},
		{name: "job completed with error", data: mutate(t, "request_job.json", func(m map[string]any) { sub(m, "job")["error"] = "x" }), wantErr: ErrInvalid, wantField: "job.error"},
		{name: "job failed without error", data: mutate(t, "request_job.json", func(m map[string]any) {
			sub(m, "job")["status"] = "failed"
			delete(sub(m, "job"), "result")
		}), wantErr: ErrInvalid, wantField: "job.error"},
		{name: "job with headers", data: mutate(t, "request_job.json", func(m map[string]any) { m["headers"] = map[string]string{"X-A": "b"} }), wantErr: ErrInvalid, wantField: "headers"},
		{name: "job with timeout", data: mutate(t, "request_job.json", func(m map[string]any) { m["timeout_seconds"] = 5 }), wantErr: ErrInvalid, wantField: "timeout_seconds"},
		{name: "job with workflow", data: mutate(t, "request_job.json", func(m map[string]any) { m["workflow"] = map[string]any{} }), wantErr: ErrInvalid, wantField: "workflow.run_id"},
		{name: "timeout zero", data: mutate(t, "request_workflow.json", func(m map[string]any) { m["timeout_seconds"] = 0 }), wantErr: ErrInvalid, wantField: "timeout_seconds"},
		{name: "timeout negative", data: mutate(t, "request_workflow.json", func(m map[string]any) { m["timeout_seconds"] = -1 }), wantErr: ErrInvalid, wantField: "timeout_seconds"},
		{name: "timeout over 300", data: mutate(t, "request_workflow.json", func(m map[string]any) { m["timeout_seconds"] = 300.5 }), wantErr: ErrInvalid, wantField: "timeout_seconds"},
		{name: "workflow event type", data: mutate(t, "request_workflow.json", func(m map[string]any) { m["event_type"] = "find_email" }), wantErr: ErrInvalid, wantField: "event_type"},
		{name: "workflow missing row_count", data: mutate(t, "request_workflow.json", func(m map[string]any) { delete(sub(m, "workflow"), "row_count") }), wantErr: ErrInvalid, wantField: "workflow.row_count"},
		{name: "workflow missing block number", data: mutate(t, "request_workflow.json", func(m map[string]any) { delete(sub(m, "workflow"), "previous_block_number") }), wantErr: ErrInvalid, wantField: "workflow.previous_block_number"},
		{name: "workflow missing run id", data: mutate(t, "request_workflow.json", func(m map[string]any) { delete(sub(m, "workflow"), "run_id") }), wantErr: ErrInvalid, wantField: "workflow.run_id"},
		{name: "workflow negative rows", data: mutate(t, "request_workflow.json", func(m map[string]any) { sub(m, "workflow")["row_count"] = -1 }), wantErr: ErrInvalid, wantField: "workflow.row_count"},
		{name: "workflow results object", data: mutate(t, "request_workflow.json", func(m map[string]any) { sub(m, "workflow")["results"] = map[string]int{"a": 1} }), wantErr: ErrInvalid, wantField: "workflow.results"},
		{name: "workflow bad download url", data: mutate(t, "request_workflow.json", func(m map[string]any) { sub(m, "workflow")["results_download_url"] = "javascript:alert(1)" }), wantErr: ErrInvalid, wantField: "workflow.results_download_url"},
		{name: "header reserved", data: mutate(t, "request_workflow.json", func(m map[string]any) { m["headers"] = map[string]string{"sixtyfour-signature": "x"} }), wantErr: ErrInvalid, wantField: "headers.sixtyfour-signature"},
		{name: "header content-type", data: mutate(t, "request_workflow.json", func(m map[string]any) { m["headers"] = map[string]string{"Content-Type": "text/plain"} }), wantErr: ErrInvalid, wantField: "headers.Content-Type"},
		{name: "header host", data: mutate(t, "request_workflow.json", func(m map[string]any) { m["headers"] = map[string]string{"HOST": "evil"} }), wantErr: ErrInvalid, wantField: "headers.HOST"},
		{name: "header name CRLF", data: mutate(t, "request_workflow.json", func(m map[string]any) { m["headers"] = map[string]string{"X-A\r\nX-B": "v"} }), wantErr: ErrInvalid, wantField: "headers.X-A\r\nX-B"},
		{name: "header name space", data: mutate(t, "request_workflow.json", func(m map[string]any) { m["headers"] = map[string]string{"X A": "v"} }), wantErr: ErrInvalid, wantField: "headers.X A"},
		{name: "header value CRLF", data: mutate(t, "request_workflow.json", func(m map[string]any) { m["headers"] = map[string]string{"X-A": "v\r\nX-Injected: 1"} }), wantErr: ErrInvalid, wantField: "headers.X-A"},
		{name: "header value NUL", data: mutate(t, "request_workflow.json", func(m map[string]any) { m["headers"] = map[string]string{"X-A": "v\x00"} }), wantErr: ErrInvalid, wantField: "headers.X-A"},
		{name: "header duplicate case", data: mutate(t, "request_workflow.json", func(m map[string]any) { m["headers"] = map[string]string{"X-A": "1", "x-a": "2"} }), wantErr: ErrInvalid, wantField: "headers.x-a"},
		{name: "header empty name", data: mutate(t, "request_workflow.json", func(m map[string]any) { m["headers"] = map[string]string{"": "v"} }), wantErr: ErrInvalid, wantField: "headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.data, URLPolicy{})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decode error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantField == "" {
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *ValidationError", err)
			}
			for _, f := range ve.Fields {
				if f.Field == tt.wantField {
					return
				}
			}
			t.Errorf("fields %v do not name %q", ve.Fields, tt.wantField)
		})
	}
}

func TestAllowHTTPIsExplicit(t *testing.T) {
	data := mutate(t, "request_workflow.json", func(m map[string]any) { m["url"] = "http://127.0.0.1:8081/hook" })
	if _, err := Decode(data, URLPolicy{}); err == nil {
		t.Fatal("http accepted without AllowHTTP")
	}
	if _, err := Decode(data, URLPolicy{AllowHTTP: true}); err != nil {
		t.Fatalf("http refused with AllowHTTP: %v", err)
	}
}

func TestTimeout(t *testing.T) {
	tests := []struct {
		seconds float64
		want    time.Duration
	}{
		{0, 10 * time.Second},
		{0.5, 500 * time.Millisecond},
		{30, 30 * time.Second},
		{150, 150 * time.Second},
		{151, 150 * time.Second},
		{300, 150 * time.Second},
	}
	for _, tt := range tests {
		r := Request{TimeoutSeconds: tt.seconds}
		if got := r.Timeout(); got != tt.want {
			t.Errorf("Timeout(%v) = %v, want %v", tt.seconds, got, tt.want)
		}
	}
}

func TestConstructors(t *testing.T) {
	now := time.Date(2026, 4, 22, 20, 0, 0, 0, time.FixedZone("x", 3600))
	job, err := NewJobRequest(now, "org_1", "https://example.com/h", JobResult{
		TaskID: "t1", Status: StatusFailed, TaskType: "find_phone", Error: "boom",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Validate(URLPolicy{}); err != nil {
		t.Fatalf("job request invalid: %v", err)
	}
	if job.EventType != "find_phone" || job.CreatedAt.Location() != time.UTC || job.Timeout() != 10*time.Second {
		t.Errorf("job request = %+v", job)
	}
	run, err := NewWorkflowRequest(now, "org_1", "https://example.com/h", WorkflowRun{
		WorkflowID: "wf", RunID: "r", PreviousBlockID: "b", PreviousBlockName: "n", PreviousBlockNumber: 1,
	}, Block{Headers: map[string]string{"X-Tok\r\nen": "v"}, TimeoutSeconds: 200})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Validate(URLPolicy{}); err != nil {
		t.Fatalf("workflow request invalid: %v", err)
	}
	if run.Headers["X-Token"] != "v" || run.Timeout() != 150*time.Second {
		t.Errorf("workflow request headers=%v timeout=%v", run.Headers, run.Timeout())
	}
	if job.EventID == run.EventID {
		t.Error("two requests got the same event id")
	}
}

// TestDecodeMalformedSaysWhere checks that a request that is not JSON of
// the documented shape is refused with a message naming the field and the
// problem in JSON terms, and that the parse is strict where two parsers
// could disagree: duplicate names, names in another case, invalid UTF-8.
func TestDecodeMalformedSaysWhere(t *testing.T) {
	valid := string(mutate(t, "request_job.json", func(map[string]any) {}))
	tests := []struct {
		name, data, want string
	}{
		{"duplicate name", `{"v":1,"org_id":"a","org_id":"b"}`, `org_id: duplicate object member name`},
		{"duplicate nested name", `{"v":1,"job":{"status":"completed","status":"failed"}}`, `job.status: duplicate object member name`},
		{"name in another case", `{"v":1,"ORG_ID":"a"}`, `ORG_ID: unknown field; did you mean "org_id"?`},
		{"unknown nested field", `{"v":1,"job":{"results":{}}}`, `job.results: unknown field`},
		{"every problem", `{"v":"1","colour":1,"job":{"results":{}}}`, `v: must be an integer, got a string; colour: unknown field; job.results: unknown field`},
		{"invalid UTF-8", "{\"v\":1,\"org_id\":\"a\xff\"}", `org_id: invalid UTF-8`},
		{"string for integer", `{"v":"1"}`, `v: must be an integer, got a string`},
		{"fraction for integer", `{"v":1,"workflow":{"row_count":1.5}}`, `workflow.row_count: must be an integer`},
		{"number for string", `{"v":1,"url":5}`, `url: must be a string, got a number`},
		{"header value not a string", `{"v":1,"headers":{"X-A":1}}`, `headers.X-A: must be a string, got a number`},
		{"bad time", `{"v":1,"created_at":"yesterday"}`, `created_at: must be an RFC 3339 time string`},
		{"array", `[]`, `must be an object, got an array`},
		{"null", `null`, `must be an object, got null`},
		{"bad raw result", `{"v":1,"job":{"result":{"a":1,}}}`, `job.result: invalid character`},
		{"trailing data", valid + ` {}`, `data after the JSON value`},
		{"truncated", valid[:len(valid)/2], `unexpected EOF`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.data), URLPolicy{})
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode error = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode error = %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "wire") || strings.Contains(err.Error(), "Go ") {
				t.Errorf("Decode error %q names Go types; it should speak of the JSON", err)
			}
		})
	}
}
