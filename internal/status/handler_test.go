package status

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/sixtyfour-oss/webhooks/internal/httpapi"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

func TestHandler(t *testing.T) {
	e := newEnv(t)
	o := e.record(e.outcome("org_a", "task_1", "", envelope.StateUndelivered), true)
	h := asOperator(Handler(e.store, e.js, e.sc))

	for _, tc := range []struct {
		name, method, target string
		wantCode             int
		wantError            string
	}{
		{"by event id", "GET", "/v1/status?event_id=" + o.EventID, 200, ""},
		{"by task id in an org", "GET", "/v1/status?task_id=task_1&org_id=org_a", 200, ""},
		{"unknown event", "GET", "/v1/status?event_id=nope", 404, "not_found"},
		{"unknown run", "GET", "/v1/status?run_id=run_9", 404, "not_found"},
		{"no query", "GET", "/v1/status", 400, "invalid_request"},
		{"two selectors", "GET", "/v1/status?event_id=a&task_id=b", 400, "invalid_request"},
		{"a repeated selector", "GET", "/v1/status?event_id=a&event_id=b", 400, "invalid_request"},
		{"bad event id", "GET", "/v1/status?event_id=" + url.QueryEscape("a.*"), 400, "invalid_request"},
		{"POST", "POST", "/v1/status?event_id=a", 405, "method_not_allowed"},
		{"other path", "GET", "/v1/other", 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
			if rec.Code != tc.wantCode {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.wantCode, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if tc.wantCode != http.StatusOK {
				var body httpapi.Error
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != tc.wantError || body.Message == "" {
					t.Errorf("body = %s (%v), want error %q with a message", rec.Body, err, tc.wantError)
				}
				return
			}
			var got []map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got) != 1 {
				t.Fatalf("body = %s (%v), want a list of one status", rec.Body, err)
			}
			for key, want := range map[string]any{"event_id": o.EventID, "org_id": "org_a", "state": "undelivered",
				"in_undelivered": true, "last_status_code": 500.0, "attempts": 6.0, "task_id": "task_1"} {
				if got[0][key] != want {
					t.Errorf("%s = %v, want %v", key, got[0][key], want)
				}
			}
		})
	}
}

// TestHandlerNamesEveryBadParameter: a 400 lists each bad parameter in
// fields, unknown and repeated ones included.
func TestHandlerNamesEveryBadParameter(t *testing.T) {
	e := newEnv(t)
	h := asOperator(Handler(e.store, e.js, e.sc))
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"no selector", "", []string{"event_id"}},
		{"unknown and repeated", "event_id=a&colour=red&org_id=o&org_id=p", []string{"colour", "org_id"}},
		{"two selectors, both bad", "event_id=a.*&task_id=b&org_id=o%20x", []string{"event_id", "task_id", "event_id", "org_id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/status?"+tc.query, nil))
			var body httpapi.Invalid
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, body %s (%v); want 400 with fields", rec.Code, rec.Body, err)
			}
			var got []string
			for _, f := range body.Fields {
				got = append(got, f.Field)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("fields = %q, want %q (body %s)", got, tc.want, rec.Body)
			}
		})
	}
}
