package deliver

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// overflowConfig moves an organization with 100 messages pending in a lane
// where another one waits, checking every 20 ms; four slots for the shared
// host (127.0.0.1) keep the backlog's delivery slow enough to watch.
func overflowConfig() Config {
	return Config{Concurrency: 16, PerHostConcurrency: 4, Prefetch: 32, MaxWaiting: 32,
		OverflowThreshold: 100, OverflowCheckEvery: 20 * time.Millisecond}
}

// laneMate returns an organization in the same lane as orgID.
func laneMate(t *testing.T, sc streams.Config, orgID string) string {
	t.Helper()
	for i := range 100000 {
		o := fmt.Sprintf("org_mate_%d", i)
		if sc.PartitionOf(o) == sc.PartitionOf(orgID) && sc.LaneOf(o) == sc.LaneOf(orgID) {
			return o
		}
	}
	t.Fatal("no organization in the same lane")
	return ""
}

// An organization that shares a lane with another's backlog (every
// organization does on the unpartitioned stream; one in 8·P with P
// partitions) does not wait for that backlog: the backlog's messages are
// moved to the overflow stream and delivered from there, each once, with
// its first queue time and its retries (one answered 503 is delivered at
// its second attempt); nothing is left on either stream.
func TestBacklogIsMovedOutOfItsLaneMatesWay(t *testing.T) {
	t.Parallel()
	for _, partitions := range []int{1, 3} {
		t.Run(fmt.Sprintf("P=%d", partitions), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, streams.Config{AckWait: 10 * time.Second, Partitions: partitions})
			noisy := "org_noisy"
			quiet := laneMate(t, h.streams, noisy)
			var failing atomic.Pointer[string] // the event answered 503 once
			var failed atomic.Bool
			slow := newReceiver(t, func(_ int, r *http.Request) int {
				time.Sleep(5 * time.Millisecond)
				if id := failing.Load(); id != nil && r.Header.Get(HeaderEventID) == *id && failed.CompareAndSwap(false, true) {
					return http.StatusServiceUnavailable
				}
				return http.StatusNoContent
			})
			fast := newReceiver(t, nil)
			const backlog = 1500
			ctx := jstest.Context(t, 90*time.Second)
			var last string
			for i := range backlog {
				r, err := h.pub.PublishJob(ctx, noisy, slow.URL, jobResult(fmt.Sprintf("task-%d", i)))
				if err != nil {
					t.Fatal(err)
				}
				last = r.EventID
			}
			failing.Store(&last)
			cfg := overflowConfig()
			l := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
			cfg.Logger = &l
			h.start(cfg, nil)
			jstest.Eventually(t, 20*time.Second, func() bool { return slow.count() >= 10 }, "the backlog draining")
			quietAt := time.Now()
			if _, err := h.pub.PublishJob(ctx, quiet, fast.URL, jobResult("quiet")); err != nil {
				t.Fatal(err)
			}
			jstest.Eventually(t, 20*time.Second, func() bool { return fast.count() == 1 }, "the lane-mate's event delivered")
			n := slow.count()
			if n >= backlog/2 {
				t.Errorf("the lane-mate's event arrived after %d of the %d backlog events: it waited behind them", n, backlog)
			}
			t.Logf("the lane-mate's event arrived after %d of the %d backlog events", n, backlog)
			jstest.Eventually(t, 40*time.Second, func() bool { return len(receivedIDs(slow)) >= backlog }, "the whole backlog delivered")
			out := h.finalOutcome(noisy, envelope.SourceJob, last, 20*time.Second)
			if out.State != envelope.StateDelivered || out.Attempts != 2 {
				t.Errorf("the moved event answered 503 once: %s after %d attempts, want delivered after 2", out.State, out.Attempts)
			}
			if got := slow.count(); got != backlog+1 {
				t.Errorf("%d requests for %d backlog events and one retry: duplicates", got, backlog)
			}
			overflow := streamMsgs(ctx, t, h, h.streams.OverflowStream())
			moved := streamState(ctx, t, h, h.streams.OverflowStream()).LastSeq
			if moved == 0 || overflow != 0 || h.pending(ctx) != 0 {
				t.Errorf("%d messages moved (want some), %d left on the overflow stream, %d on WEBHOOKS (want 0)", moved, overflow, h.pending(ctx))
			}
			for id, recs := range jstest.AllRecords(ctx, t, h.js, h.streams) {
				if q := recs[0].QueuedAt; recs[0].OrgID == noisy && !q.Before(quietAt) {
					t.Fatalf("event %s queued at %v, after the lane-mate's publish: its move's time, not its first", id, q)
				}
			}
		})
	}
}

// A backlog nobody waits behind is delivered from its lane: moving is for
// the others' sake, so a lone organization keeps every worker and nothing
// goes to the overflow stream.
func TestLoneBacklogStaysInItsLane(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streams.Config{AckWait: 10 * time.Second})
	slow := newReceiver(t, func(int, *http.Request) int { time.Sleep(2 * time.Millisecond); return http.StatusNoContent })
	const backlog = 600
	ctx := jstest.Context(t, 60*time.Second)
	for i := range backlog {
		if _, err := h.pub.PublishJob(ctx, "org_alone", slow.URL, jobResult(fmt.Sprintf("task-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	h.start(overflowConfig(), nil)
	jstest.Eventually(t, 40*time.Second, func() bool { return slow.count() >= backlog }, "the backlog delivered")
	if moved := streamState(ctx, t, h, h.streams.OverflowStream()).LastSeq; moved != 0 {
		t.Errorf("%d messages of a lone organization moved to the overflow stream, want 0", moved)
	}
}

// With moving off (a negative threshold) a lane is delivered in arrival
// order, and a bad check period is refused.
func TestOverflowSettings(t *testing.T) {
	t.Parallel()
	if err := (Config{OverflowCheckEvery: time.Millisecond}).withDefaults().validate(); err == nil {
		t.Error("OverflowCheckEvery 1ms accepted")
	}
	c := (Config{}).withDefaults()
	if c.OverflowThreshold != DefaultOverflowThreshold || c.OverflowCheckEvery != DefaultOverflowCheckEvery {
		t.Errorf("defaults: threshold %d, every %v", c.OverflowThreshold, c.OverflowCheckEvery)
	}
}

// When a move fails (here the overflow stream was deleted under a running
// deliverer), the message is delivered from its lane after all and moving
// pauses: every event is delivered, once, and none is left behind.
func TestFailedMoveDeliversFromTheLane(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streams.Config{AckWait: 10 * time.Second})
	noisy := "org_noisy"
	quiet := laneMate(t, h.streams, noisy)
	slow := newReceiver(t, func(int, *http.Request) int { time.Sleep(2 * time.Millisecond); return http.StatusNoContent })
	const backlog = 600
	ctx := jstest.Context(t, 60*time.Second)
	for i := range backlog {
		if _, err := h.pub.PublishJob(ctx, noisy, slow.URL, jobResult(fmt.Sprintf("task-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.pub.PublishJob(ctx, quiet, slow.URL, jobResult("quiet")); err != nil {
		t.Fatal(err)
	}
	h.start(overflowConfig(), nil)
	if err := h.js.DeleteStream(ctx, h.streams.OverflowStream()); err != nil {
		t.Fatal(err)
	}
	jstest.Eventually(t, 40*time.Second, func() bool { return slow.count() >= backlog+1 }, "every event delivered")
	if got := receivedIDs(slow); len(got) != backlog+1 || slow.count() != backlog+1 {
		t.Errorf("%d requests for %d distinct events, want %d of each", slow.count(), len(got), backlog+1)
	}
	jstest.Eventually(t, 10*time.Second, func() bool { return h.pending(ctx) == 0 }, "WEBHOOKS empty")
}
