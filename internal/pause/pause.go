// Package pause waits for a duration unless a context ends first: the
// wait between tries of every retry loop in the pipeline.
package pause

import (
	"context"
	"time"
)

// For waits d or until ctx ends, and reports whether the full wait passed
// (false: ctx ended first, the caller should stop).
func For(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
