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
