package status

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/sixtyfour-oss/webhooks/internal/httpapi"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

func TestHandler(t *testing.T) {
	e := newEnv(t)
	o := e.record(e.outcome("org_a", "task_1", "", envelope.StateUndelivered), true)
	h := Handler(e.store, e.js, e.sc)

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
