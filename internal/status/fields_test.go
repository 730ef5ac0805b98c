package status

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/runresult"
)

// TestHandlerFieldsAsDocumented checks the JSON of GET /v1/status: the
// README's status_code and error, their deprecated aliases last_status_code
// and last_error, and the workflow block's columns as pkg/runresult
// derives them (for final workflow rounds only).
func TestHandlerFieldsAsDocumented(t *testing.T) {
	e := newEnv(t)
	job := e.record(e.outcome("org_a", "task_1", "", envelope.StateUndelivered), true)
	run := e.record(e.outcome("org_a", "", "run_1", envelope.StateDelivered), true)
	retrying := e.record(e.outcome("org_a", "", "run_2", envelope.StateRetrying), true)
	h := asOperator(Handler(e.store, e.js, e.sc))
	get := func(eventID string) map[string]any {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/status?event_id="+eventID, nil))
		var got []map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &got); rec.Code != 200 || err != nil || len(got) != 1 {
			t.Fatalf("GET status of %s = %d %s (%v), want one status", eventID, rec.Code, rec.Body, err)
		}
		return got[0]
	}

	for _, tc := range []struct {
		name    string
		o       *envelope.Outcome
		columns bool
	}{
		{"undelivered job", job, false},
		{"delivered workflow run", run, true},
		{"retrying workflow run", retrying, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := get(tc.o.EventID)
			want := map[string]any{"status_code": float64(tc.o.StatusCode), "last_status_code": float64(tc.o.StatusCode)}
			if tc.o.Error != "" {
				want["error"], want["last_error"] = tc.o.Error, tc.o.Error
			}
			for key, w := range want {
				if got[key] != w {
					t.Errorf("%s = %v, want %v", key, got[key], w)
				}
			}
			cols := runresult.ColumnsOf(tc.o)
			for key, w := range map[string]any{"webhook_status_code": float64(cols.StatusCode),
				"webhook_success": cols.Success, "webhook_response": cols.Response} {
				v, ok := got[key]
				switch {
				case tc.columns && v != w:
					t.Errorf("%s = %v (present %v), want %v", key, v, ok, w)
				case !tc.columns && ok:
					t.Errorf("%s = %v, want no block columns for a %s", key, v, tc.name)
				}
			}
		})
	}
}
