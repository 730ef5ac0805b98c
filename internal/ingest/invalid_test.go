package ingest_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// edit decodes base, applies f and encodes the result.
func edit(t *testing.T, base string, f func(m map[string]any)) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(base), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fieldNames lists the "field" of each entry of a 400 body's fields.
func fieldNames(t *testing.T, body map[string]any) []string {
	t.Helper()
	list, ok := body["fields"].([]any)
	if !ok {
		t.Fatalf("fields = %#v, want an array", body["fields"])
	}
	names := []string{}
	for _, f := range list {
		m := f.(map[string]any)
		if msg, _ := m["message"].(string); msg == "" {
			t.Errorf("field %v has no message", m["field"])
		}
		names = append(names, m["field"].(string))
	}
	return names
}

func TestPostInvalid(t *testing.T) {
	e := newEnv(t, options{})
	job := func(f func(m map[string]any)) string { return edit(t, jobBody, f) }
	wf := func(f func(m map[string]any)) string { return edit(t, workflowBody, f) }
	sub := func(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }
	tests := []struct {
		name       string
		body       string
		wantFields []string
		wantMsg    string // substring of message, when set
	}{
		{"bad url scheme", job(func(m map[string]any) { m["url"] = "ftp://127.0.0.1/x" }), []string{"url"}, ""},
		{"private ip refused by policy", job(func(m map[string]any) { m["url"] = "https://10.0.0.1/" }), []string{"url"}, ""},
		{"metadata ip refused by policy", job(func(m map[string]any) { m["url"] = "https://169.254.169.254/latest" }), []string{"url"}, ""},
		{"bad org_id", job(func(m map[string]any) { m["org_id"] = "org 1" }), []string{"org_id"}, ""},
		{"uppercase event_id", job(func(m map[string]any) { m["event_id"] = "6F1C2A4E-8B7D-4C3E-9A1F-2B3C4D5E6F70" }), []string{"event_id"}, ""},
		{"missing source", job(func(m map[string]any) { delete(m, "source") }), []string{"source"}, ""},
		{"unknown source", job(func(m map[string]any) { m["source"] = "cron" }), []string{"source"}, ""},
		{"job missing", job(func(m map[string]any) { delete(m, "job") }), []string{"job"}, ""},
		{"failed job without error", job(func(m map[string]any) {
			j := sub(m, "job")
			j["status"] = "failed"
			delete(j, "result")
		}), []string{"job.error"}, ""},
		{"headers on a job", job(func(m map[string]any) { m["headers"] = map[string]string{"X-A": "1"} }), []string{"headers"}, ""},
		{"every bad field listed", job(func(m map[string]any) {
			m["org_id"] = ""
			m["url"] = "https://user:pw@127.0.0.1/"
			sub(m, "job")["task_type"] = "Find Email"
		}), []string{"org_id", "url", "job.task_type"}, ""},
		{"header with CRLF value", wf(func(m map[string]any) { m["headers"] = map[string]string{"X-Foo": "a\r\nX-Evil: 1"} }), []string{"headers.X-Foo"}, ""},
		{"reserved header", wf(func(m map[string]any) { m["headers"] = map[string]string{"Sixtyfour-Signature": "x"} }), []string{"headers.Sixtyfour-Signature"}, ""},
		{"timeout 0", wf(func(m map[string]any) { m["timeout_seconds"] = 0 }), []string{"timeout_seconds"}, ""},
		{"timeout 301", wf(func(m map[string]any) { m["timeout_seconds"] = 301 }), []string{"timeout_seconds"}, ""},
		{"timeout 0 and bad org", wf(func(m map[string]any) {
			m["timeout_seconds"] = 0
			m["org_id"] = "a.b"
		}), []string{"timeout_seconds", "org_id"}, ""},
		{"workflow numbers missing", wf(func(m map[string]any) {
			delete(sub(m, "workflow"), "row_count")
			delete(sub(m, "workflow"), "previous_block_number")
		}), []string{"workflow.row_count", "workflow.previous_block_number"}, ""},
		{"bad started_at", wf(func(m map[string]any) { sub(m, "workflow")["started_at"] = "yesterday" }), []string{"workflow.started_at"}, ""},
		{"results not an array", wf(func(m map[string]any) { sub(m, "workflow")["results"] = map[string]int{"a": 1} }), []string{"workflow.results"}, ""},
		{"wrong type", wf(func(m map[string]any) { sub(m, "workflow")["row_count"] = "2" }), []string{"workflow.row_count"}, "see fields"},
		{"every wrong type", wf(func(m map[string]any) {
			m["timeout_seconds"] = "30"
			sub(m, "workflow")["row_count"] = "2"
		}), []string{"timeout_seconds", "workflow.row_count"}, "see fields"},
		{"unknown field", job(func(m map[string]any) { m["extra"] = 1 }), []string{"extra"}, ""},
		{"unknown nested field", job(func(m map[string]any) { sub(m, "job")["results"] = 1 }), []string{"job.results"}, ""},
		{"name in another case", job(func(m map[string]any) { m["ORG_ID"] = m["org_id"] }), []string{"ORG_ID"}, ""},
		{"duplicate name", strings.Replace(jobBody, `"org_id":`, `"org_id":"org_other","org_id":`, 1), []string{"org_id"}, ""},
		{"invalid UTF-8", strings.Replace(jobBody, `"task_type":"find_email"`, "\"task_type\":\"find\xffemail\"", 1), []string{"job.task_type"}, ""},
		{"every parse problem listed", strings.NewReplacer(`"org_id":`, `"colour":1,"Org_ID":"o","org_id":`,
			`"headers":`, `"headers":{},"headers":`, `"row_count":2`, `"row_count":"2"`, `"run_id":`, `"headrs":{},"run_id":`).Replace(workflowBody),
			[]string{"colour", "Org_ID", "headers", "workflow.headrs", "workflow.row_count"}, ""},
		{"syntax error in a member", `{"org_id":`, []string{"org_id"}, "byte 10"},
		{"syntax error", `{"org_id":"org_1" "source":"job"}`, []string{}, "byte 18"},
		{"not an object", `[1,2]`, []string{}, "JSON object"},
		{"null", `null`, []string{}, "JSON object"},
		{"null with spaces", " \r\n null\t", []string{}, "JSON object"},
		{"a string", `"x"`, []string{}, "JSON object"},
		{"a number", `1`, []string{}, "JSON object"},
		{"trailing data", jobBody + `{}`, []string{}, "after the JSON value"},
		{"empty body", ``, []string{}, "empty body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.post(bearer, tt.body)
			if resp.status != http.StatusBadRequest || resp.body["error"] != "invalid_request" {
				t.Fatalf("got %d %s, want 400 invalid_request", resp.status, resp.raw)
			}
			if got := fieldNames(t, resp.body); !reflect.DeepEqual(got, tt.wantFields) {
				t.Errorf("fields = %q, want %q (%s)", got, tt.wantFields, resp.raw)
			}
			if msg, _ := resp.body["message"].(string); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.wantMsg)
			}
			if got := e.count(); got != 0 {
				t.Errorf("stream holds %d messages, want 0", got)
			}
		})
	}
}
