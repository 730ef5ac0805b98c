package ingest_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/ingest"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
)

func TestLogLine(t *testing.T) {
	var out jstest.LogBuffer
	log := zerolog.New(&out)
	e := newEnv(t, options{logger: &log})
	resp := e.post(bearer, jobBody)
	if resp.status != 202 {
		t.Fatalf("status = %d: %s", resp.status, resp.raw)
	}
	e.post("Bearer wrong_secret_token", jobBody)
	jstest.Eventually(t, 5*time.Second, func() bool { return strings.Count(out.String(), "\n") == 2 }, "two log lines, have %q", out.String())
	logged := out.String()
	for _, secret := range []string{token, "wrong_secret_token", "a@b.co", "find_email"} {
		if strings.Contains(logged, secret) {
			t.Errorf("log contains %q: %s", secret, logged)
		}
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(logged, "\n", 2)[0]), &line); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"method": "POST", "path": "/v1/events", "status": 202.0, "event_id": resp.body["event_id"], "org_id": "org_1"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v", k, line[k], v)
		}
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Errorf("log has no duration_ms: %v", line)
	}
}

func TestNewHandlerPanicsOnBadConfig(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "Tokens") {
			t.Errorf("recover() = %v, want a panic naming Tokens", r)
		}
	}()
	ingest.NewHandler(publish.New(nil, publish.Config{}), ingest.Config{})
}
