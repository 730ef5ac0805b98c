package pause_test

import (
	"context"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/pause"
)

// TestFor: a full wait reports true; a context ended before or during the
// wait returns false at once.
func TestFor(t *testing.T) {
	if !pause.For(t.Context(), time.Millisecond) {
		t.Error("For(1ms) = false with a live context, want true")
	}
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	if pause.For(ended, time.Hour) {
		t.Error("For(1h) = true with an ended context, want false")
	}
	soon, cancel := context.WithCancel(t.Context())
	done := make(chan bool)
	go func() { done <- pause.For(soon, time.Hour) }()
	cancel()
	select {
	case full := <-done:
		if full {
			t.Error("For(1h) = true after cancel, want false")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("For(1h) did not return within 10s of its context ending")
	}
}
