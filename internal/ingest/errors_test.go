package ingest_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

func TestPostTooLargeForStream(t *testing.T) {
	small := streams.Config{MaxMsgSize: 1024}
	e := newEnv(t, options{ensure: small, publish: publish.Config{Streams: small}})
	body := `{"org_id":"org_1","source":"job","url":"https://127.0.0.1/","job":{"task_id":"t","status":"failed","task_type":"x","error":"` +
		strings.Repeat("e", 2048) + `"}}`
	resp := e.post(bearer, body)
	if resp.status != http.StatusRequestEntityTooLarge || resp.body["error"] != "payload_too_large" {
		t.Fatalf("got %d %s, want 413 payload_too_large", resp.status, resp.raw)
	}
	if got := e.count(); got != 0 {
		t.Errorf("stream holds %d messages, want 0", got)
	}
}

func TestUnavailable(t *testing.T) {
	fast := publish.Config{TryTimeout: 200 * time.Millisecond, Tries: 2}
	tests := []struct {
		name  string
		setup func(t *testing.T) *env
	}{
		{"stream missing", func(t *testing.T) *env {
			cfg := fast
			cfg.Streams = streams.Config{DeliverStream: "MISSING"}
			return newEnv(t, options{publish: cfg})
		}},
		{"server gone", func(t *testing.T) *env {
			e := newEnv(t, options{publish: fast})
			e.srv.Shutdown()
			e.srv.WaitForShutdown()
			return e
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.setup(t)
			resp := e.post(bearer, jobBody)
			if resp.status != http.StatusServiceUnavailable || resp.body["error"] != "unavailable" {
				t.Fatalf("got %d %s, want 503 unavailable", resp.status, resp.raw)
			}
			if got := resp.header.Get("Retry-After"); got != "1" {
				t.Errorf("Retry-After = %q, want 1", got)
			}
			if resp.body["message"] != "event not stored; retry with the same event_id" {
				t.Errorf("message = %v", resp.body["message"])
			}
			if id, _ := resp.body["event_id"].(string); len(id) != 36 {
				t.Errorf("event_id = %v, want the id to retry with", resp.body["event_id"])
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	e := newEnv(t, options{})
	tests := []struct {
		name, method, path, contentType string
		wantStatus                      int
		wantBody                        string // substring
		wantHeader, wantHeaderValue     string
	}{
		{"healthz", "GET", "/healthz", "", 200, "ok", "", ""},
		{"healthz post", "POST", "/healthz", "", 405, "method_not_allowed", "Allow", "GET, HEAD"},
		{"events get", "GET", "/v1/events", "", 405, "method_not_allowed", "Allow", "POST"},
		{"events put", "PUT", "/v1/events", "", 405, "method_not_allowed", "Allow", "POST"},
		{"not found", "GET", "/v1/event", "", 404, "not_found", "", ""},
		{"trailing slash", "POST", "/v1/events/", "", 404, "not_found", "", ""},
		{"form body", "POST", "/v1/events", "application/x-www-form-urlencoded", 415, "unsupported_media_type", "", ""},
		{"json with charset", "POST", "/v1/events", "application/json; charset=utf-8", 202, "event_id", "", ""},
		{"no content type", "POST", "/v1/events", "", 202, "event_id", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, e.http.URL+tt.path, bytes.NewReader([]byte(jobBody)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", bearer)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp := e.do(req)
			if resp.status != tt.wantStatus || !strings.Contains(resp.raw, tt.wantBody) {
				t.Fatalf("got %d %s, want %d containing %q", resp.status, resp.raw, tt.wantStatus, tt.wantBody)
			}
			if tt.wantHeader != "" && resp.header.Get(tt.wantHeader) != tt.wantHeaderValue {
				t.Errorf("%s = %q, want %q", tt.wantHeader, resp.header.Get(tt.wantHeader), tt.wantHeaderValue)
			}
			if tt.path != "/healthz" && !strings.HasPrefix(resp.header.Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type = %q, want application/json", resp.header.Get("Content-Type"))
			}
		})
	}
}
