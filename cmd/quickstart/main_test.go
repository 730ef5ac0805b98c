package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestQuickstartDemo runs the README's quickstart end to end, on a fast
// schedule, random ports and a temporary data directory.
func TestQuickstartDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, []string{"-exit", "-nats-port", "-1", "-receiver", "127.0.0.1:0", "-publisher", "127.0.0.1:0", "-ops", "127.0.0.1:0", "-data", t.TempDir(),
		"-schedule", "50ms,50ms,50ms,50ms,50ms"}, &out)
	if err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{"DELIVERED", "UNDELIVERED", "delivered after retries", "shown once: sk_whsec_",
		"downloaded results_download_url → 200 text/csv, 34 bytes", "webhook_status_code=204 webhook_success=true",
		"Attempt timeline of", "retry in 50ms", "delivery log sqlite:"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, "✓ signature verified") != 11 || strings.Contains(got, "REJECTED") {
		t.Errorf("want 11 verified requests (1 + 3 + 6 + 1) and none rejected:\n%s", got)
	}
}

func TestQuickstartRejectsBadFlags(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-schedule"}, &out)
	var usage usageError
	if !errors.As(err, &usage) {
		t.Errorf("error = %v, want a usage error", err)
	}
	err = run(context.Background(), []string{"extra"}, &out)
	if !errors.As(err, &usage) {
		t.Errorf("error = %v, want a usage error", err)
	}
}
