package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
)

// unsafeWarnings returns, by setting, how many UNSAFE warnings were logged.
func unsafeWarnings(log string) map[string]int {
	out := map[string]int{}
	for _, line := range strings.Split(log, "\n") {
		var l struct{ Level, Message, Setting string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Level == "warn" && strings.Contains(l.Message, "UNSAFE") {
			out[l.Setting]++
		}
	}
	return out
}

// publisher publish warns once, and only about the unsafe settings that
// the event it publishes relies on.
func TestPublishWarnsOnlyAboutWhatApplies(t *testing.T) {
	tests := []struct {
		name, url string
		want      map[string]int
	}{
		{"https to an allowed private address", "https://127.0.0.1:9/hook", map[string]int{"WEBHOOKS_ALLOW_DESTINATIONS": 1}},
		{"http to an allowed private address", "http://127.0.0.1:9/hook", map[string]int{"WEBHOOKS_ALLOW_DESTINATIONS": 1, "WEBHOOKS_UNSAFE_ALLOW_HTTP": 1}},
		{"https to a public address", "https://93.184.215.14/hook", map[string]int{}},
		{"http to a public address", "http://93.184.215.14/hook", map[string]int{"WEBHOOKS_UNSAFE_ALLOW_HTTP": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			natsServer(t, map[string]string{"WEBHOOKS_UNSAFE_ALLOW_HTTP": "true"}) // and the allow-list 127.0.0.0/8
			args := []string{"publish", "-org", "org_1", "-url", tt.url, "-task-id", "t-1", "-status", "failed",
				"-task-type", "find_email", "-error", "none"}
			var stderr jstest.LogBuffer
			if err := run(context.Background(), args, nil, io.Discard, &stderr); err != nil {
				t.Fatalf("run: %v\n%s", err, stderr.String())
			}
			got := unsafeWarnings(stderr.String())
			if len(got) != len(tt.want) {
				t.Errorf("UNSAFE warnings %v, want %v\n%s", got, tt.want, stderr.String())
			}
			for setting, n := range tt.want {
				if got[setting] != n {
					t.Errorf("%d warnings about %s, want %d\n%s", got[setting], setting, n, stderr.String())
				}
			}
		})
	}
}
