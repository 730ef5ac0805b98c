package retry_test

import (
	"context"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/retry"
)

// TestPause: a full wait reports true; a context ended before or during the
// wait returns false at once.
func TestPause(t *testing.T) {
	if !retry.Pause(t.Context(), time.Millisecond) {
		t.Error("Pause(1ms) = false with a live context, want true")
	}
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	if retry.Pause(ended, time.Hour) {
		t.Error("Pause(1h) = true with an ended context, want false")
	}
	soon, cancel := context.WithCancel(t.Context())
	done := make(chan bool)
	go func() { done <- retry.Pause(soon, time.Hour) }()
	cancel()
	select {
	case full := <-done:
		if full {
			t.Error("Pause(1h) = true after cancel, want false")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Pause(1h) did not return within 10s of its context ending")
	}
}

// TestEvery calls fn once per interval and returns when ctx ends.
func TestEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		retry.Every(ctx, time.Millisecond, func() {
			if calls++; calls == 3 {
				cancel()
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Every did not return after its context ended")
	}
	if calls != 3 {
		t.Errorf("fn called %d times, want 3 (the context ended in the third)", calls)
	}
}
