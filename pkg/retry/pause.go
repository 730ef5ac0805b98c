package retry

import (
	"context"
	"time"
)

// Pause waits d or until ctx ends, and reports whether the full wait passed
// (false: ctx ended first, the caller should stop). It is the wait between
// the tries of every retry loop in the pipeline.
func Pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Every calls fn every interval until ctx ends (fn's own run included: a
// slow fn delays the next call, never overlaps it). It is the loop of the
// pipeline's periodic checks.
func Every(ctx context.Context, interval time.Duration, fn func()) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			fn()
		}
	}
}
