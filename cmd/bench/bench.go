package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// phase is one part of the benchmark.
type phase struct {
	name string
	run  func(ctx context.Context, o options, r *report) error
}

// phases lists every phase in phaseNames order.
var phases = []phase{
	{"http", baselineHTTP}, {"js", baselineJS}, {"bare", baselineBare},
	{"drain", fullDrain}, {"fsync", fsyncDrain}, {"latency", latency},
	{"isolation", isolation}, {"stalls", stalls}, {"history", history}, {"log", deliveryLog},
	{"fairness", fairness}, {"scale", scale},
}

// runBench runs the selected phases, printing their details, then the
// summary line. A failed phase is reported and the others still run; the
// error is returned after the summary.
func runBench(ctx context.Context, o options, out io.Writer) error {
	start := time.Now()
	r := newReport(out)
	r.printf("%s", machine())
	r.printf("settings: events=%d rounds=%d fsync_events=%d deliverer concurrency=%d prefetch=%d per_host=%d max_waiting=%d (0: default); baseline workers=%d (the deliverer's per-host limit: every event goes to one sink host); 1 KiB bodies",
		o.events, o.rounds, o.fsyncEvents, o.concurrency, o.prefetch, o.perHost, o.maxWaiting, o.workers())
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
	}
	var failed []error
	for _, p := range phases {
		if !o.phases[p.name] {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t0 := time.Now()
		r.printf("== %s (load %s)", p.name, loadAvg())
		if err := p.run(ctx, o, r); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.printf("  FAILED: %v", err)
			failed = append(failed, fmt.Errorf("%s: %w", p.name, err))
		}
		r.printf("  (%s took %.1f s)", p.name, time.Since(t0).Seconds())
	}
	r.set("ratio_bare", r.ratio("drain_per_s", "baseline_bare_per_s"))
	r.set("ratio_http", r.ratio("drain_per_s", "baseline_http_per_s"))
	r.printf("done in %.1f s (load %s)", time.Since(start).Seconds(), loadAvg())
	fmt.Fprintln(out, r.summary())
	return errors.Join(failed...)
}

// profilePath returns where to write a CPU profile, or "" when profiling
// is off.
func (o options) profilePath(name string) string {
	if o.profileDir == "" {
		return ""
	}
	return filepath.Join(o.profileDir, name+".pprof")
}
