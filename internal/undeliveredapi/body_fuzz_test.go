package undeliveredapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// FuzzReplayBody: any body is either refused with a 400 (or 413) listing
// its problems, or read into a selection of valid event ids; nothing
// panics.
func FuzzReplayBody(f *testing.F) {
	for _, s := range []string{"", "{}", `{"org_id":"org_a","event_ids":["a","b"],"dry_run":true}`,
		`{"since":"2026-12-06T10:00:00Z","until":"x"}`, `{"org_id":1}`, `{"a":1,"a":2}`, `[`, "null", `{"rate_per_second":-0.5}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, Path+"/replay", strings.NewReader(body))
		var req replayRequest
		if !readBody(rec, r, &req) {
			if rec.Code != http.StatusBadRequest && rec.Code != http.StatusRequestEntityTooLarge || !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("refusal = %d %s, want 400 or 413 in JSON", rec.Code, rec.Body)
			}
			return
		}
		var p problems
		fl := req.criteria().filter(&p)
		checkRate(req.RatePerSecond, &p)
		if len(p) > 0 {
			return
		}
		for _, id := range fl.EventIDs {
			if !envelope.ValidOrgID(id) {
				t.Errorf("body %q: event id %q accepted", body, id)
			}
		}
		if req.RatePerSecond < 0 {
			t.Errorf("body %q: rate %v accepted", body, req.RatePerSecond)
		}
	})
}
