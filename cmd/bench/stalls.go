package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/sixtyfour-oss/webhooks/internal/deliver"
)

// stalls drains o.stallEvents events o.stallRuns times with a
// high-concurrency client (by default the deliverer with o.stallWorkers
// attempts in flight, all allowed to the one sink host) and counts the runs
// that made no progress for o.stallAfter: stalls=<runs that stalled>. Each
// stall is reported with the consumer's state and a goroutine dump of the
// client; a run that does not recover within o.stallGiveUp is abandoned.
func stalls(ctx context.Context, o options, r *report) error {
	stalled, episodes := 0, 0
	var rates []float64
	for run := 1; run <= o.stallRuns; run++ {
		t, dir, err := stallRun(ctx, o, r, run)
		if err != nil && !errors.Is(err, errGaveUp) {
			return fmt.Errorf("run %d: %w", run, err)
		}
		line := fmt.Sprintf("  run %2d: %d events", run, t.N)
		if err == nil {
			rates = append(rates, t.perSec())
			line += fmt.Sprintf(" in %6.2f s = %6.0f/s", t.Elapsed.Seconds(), t.perSec())
		} else {
			line += ": " + err.Error()
		}
		r.printf("%s", line)
		if len(t.Stalls) > 0 {
			stalled++
			episodes += len(t.Stalls)
			r.printf("    STALLED (files kept in %s):", dir)
		}
		r.stalls(t.Stalls)
	}
	if len(rates) > 0 {
		slices.Sort(rates)
		r.printf("  %d runs, %d stalled (%d stalls); completed runs: min %.0f/s, median %.0f/s, max %.0f/s",
			o.stallRuns, stalled, episodes, rates[0], rates[len(rates)/2], rates[len(rates)-1])
	}
	r.set("stalls", float64(stalled))
	return nil
}

// stallRun is one high-concurrency drain; it returns what it measured and
// the run's directory (kept when it stalled).
func stallRun(ctx context.Context, o options, r *report, run int) (timed, string, error) {
	e, err := newEnv(ctx, o, envConfig{maxAckPending: o.stallMaxAckPending})
	if err != nil {
		return timed{N: o.stallEvents}, "", err
	}
	defer e.close()
	if _, err := e.publishJobs(ctx, o.stallEvents); err != nil {
		return timed{N: o.stallEvents}, e.dir, err
	}
	prefetch := o.stallPrefetch
	if prefetch == 0 {
		prefetch = min(deliver.DefaultPrefetch, o.stallWorkers)
	}
	spec := e.spec(o.stallLoop, o.stallWorkers, prefetch)
	if run == 1 && o.stallLoop == modeDeliverer {
		spec.CPUProfile = o.profilePath("stall-run")
	}
	t, res, err := e.measureChild(ctx, spec, o.stallEvents, watch{
		progress: e.sink.received, stallAfter: o.stallAfter, giveUp: o.stallGiveUp, timeout: runTimeout,
	})
	if res.GoroutinesAfter > res.GoroutinesBefore {
		e.keep = true
		r.leaks(fmt.Sprintf("stall run %d", run), res)
	}
	if err == nil {
		err = e.checkSink(r, int64(o.stallEvents))
	}
	return t, e.dir, err
}
