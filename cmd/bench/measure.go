package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"
)

// errGaveUp ends a timed run that stalled and did not recover in time.
var errGaveUp = errors.New("no progress: gave up")

// stall is one stretch of no progress of at least the stall threshold.
type stall struct {
	At        int64         // progress when it stopped
	Elapsed   time.Duration // since the run began, when it stopped
	Recovered time.Duration // how long until progress resumed; 0 if it never did
	Dump      string        // goroutine dump of the child taken during the stall
	Consumer  string        // consumer state during the stall
}

// timed is what timedRun measured.
type timed struct {
	N         int           // events
	Elapsed   time.Duration // from "go" to the last event
	ChildCPU  time.Duration // child's user+system CPU during the run
	ParentCPU time.Duration // this process (broker, sink) during the run
	ChildRSS  int64         // child's peak RSS (VmHWM) at the end, bytes
	Stalls    []stall
}

// perSec returns events per second.
func (t timed) perSec() float64 { return float64(t.N) / t.Elapsed.Seconds() }

// cpuPerEvent returns CPU milliseconds per event.
func cpuPerEvent(d time.Duration, n int) float64 {
	return float64(d.Microseconds()) / 1000 / float64(n)
}

// watch configures timedRun.
type watch struct {
	progress   func() int64  // events done so far
	stallAfter time.Duration // no progress this long is a stall; 0 never
	giveUp     time.Duration // after a stall, abandon the run; 0 never
	timeout    time.Duration // abandon the run after this long
	profile    string        // CPU profile of this process during the run
	// halfway, if set, is called once when half the events are done.
	halfway func(c *child)
}

// timedRun starts c's run and waits until progress reaches n, noting
// stalls (each with a goroutine dump of the child and the consumer state).
// The child keeps running; the caller stops it.
func (e *env) timedRun(ctx context.Context, c *child, n int, w watch) (timed, error) {
	t := timed{N: n}
	stopProfile, err := profileSelf(w.profile)
	if err != nil {
		return t, err
	}
	defer stopProfile()
	cpu0, self0 := procCPU(c.pid()), selfCPU()
	start := time.Now()
	if err := c.begin(); err != nil {
		return t, err
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	last, lastAt := int64(0), start
	halfway := w.halfway
	var cur *stall
	for {
		select {
		case <-ctx.Done():
			return t, ctx.Err()
		case <-tick.C:
		}
		now := time.Now()
		p := w.progress()
		switch {
		case p >= int64(n):
			t.Elapsed = now.Sub(start)
			t.ChildCPU, t.ParentCPU = procCPU(c.pid())-cpu0, selfCPU()-self0
			t.ChildRSS = vmHWM(c.pid())
			return t, nil
		case p != last:
			if halfway != nil && p >= int64(n)/2 {
				halfway(c)
				halfway = nil
			}
			if cur != nil {
				cur.Recovered = now.Sub(lastAt)
				cur = nil
			}
			last, lastAt = p, now
		case w.stallAfter > 0 && cur == nil && now.Sub(lastAt) >= w.stallAfter:
			t.Stalls = append(t.Stalls, e.noteStall(ctx, c, p, lastAt.Sub(start)))
			cur = &t.Stalls[len(t.Stalls)-1]
		case cur != nil && w.giveUp > 0 && now.Sub(lastAt) >= w.stallAfter+w.giveUp:
			return t, fmt.Errorf("%w at %d of %d after %v", errGaveUp, p, n, now.Sub(lastAt).Round(time.Second))
		case w.timeout > 0 && now.Sub(start) >= w.timeout:
			return t, fmt.Errorf("timed out at %d of %d after %v", p, n, w.timeout)
		}
	}
}

// profileSelf writes this process's CPU profile (the broker, the sink and
// the publisher) to path until the returned func is called; it does
// nothing when path is empty.
func profileSelf(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// noteStall records a stall: the consumer's state and a goroutine dump of
// the child, kept next to the phase's files.
func (e *env) noteStall(ctx context.Context, c *child, at int64, since time.Duration) stall {
	s := stall{At: at, Elapsed: since, Dump: filepath.Join(e.dir, fmt.Sprintf("stall-%s-%d.txt", c.spec.Mode, at))}
	e.keep = true // keep the dump and the attempt log
	if err := c.dump(s.Dump); err != nil {
		s.Dump = "(dump failed: " + err.Error() + ")"
	}
	info, err := e.res.Consumer.Info(ctx)
	if err != nil {
		s.Consumer = "(consumer info: " + err.Error() + ")"
		return s
	}
	s.Consumer = fmt.Sprintf("num_pending=%d num_ack_pending=%d num_waiting=%d num_redelivered=%d delivered=%d ack_floor=%d",
		info.NumPending, info.NumAckPending, info.NumWaiting, info.NumRedelivered, info.Delivered.Consumer, info.AckFloor.Consumer)
	return s
}

// measureChild starts a child running spec, times its run to n events
// (timedRun), and stops it. It returns what was measured even on error.
func (e *env) measureChild(ctx context.Context, spec childSpec, n int, w watch) (timed, childResult, error) {
	c, err := startChild(spec)
	if err != nil {
		return timed{N: n}, childResult{}, err
	}
	t, runErr := e.timedRun(ctx, c, n, w)
	res, _, stopErr := c.stop(ctx)
	return t, res, errors.Join(runErr, stopErr)
}
