package main

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
)

// fullDrain is the full pipeline's drain: a backlog of o.events job events
// published first, then the real deliverer (every production feature on)
// timed from "go" until the sink has every event, o.rounds times; the best
// round counts, as for baseline C. It also reports the deliverer's peak RSS
// (VmHWM of its process when the last event arrived; the largest of the
// rounds) and, with -profile, writes the first round's CPU profile, and a
// heap profile and a goroutine dump taken halfway through it.
func fullDrain(ctx context.Context, o options, r *report) error {
	var rss int64
	best, err := rounds(o, func(round int) (float64, error) {
		profile := ""
		if round == 1 {
			profile = o.profilePath("deliverer")
		}
		t, err := drainOnce(ctx, o, r, envConfig{}, o.events, roundLabel("D: full deliverer drain", round, o.rounds), profile)
		rss = max(rss, t.ChildRSS)
		return t.perSec(), err
	})
	if best > 0 {
		r.set("drain_per_s", best)
		r.set("rss_mb", float64(rss)/(1<<20))
	}
	return err
}

// fsyncDrain is the same drain with the server fsyncing every write
// (embedded.Config{SyncAlways: true}) and o.fsyncEvents events.
func fsyncDrain(ctx context.Context, o options, r *report) error {
	t, err := drainOnce(ctx, o, r, envConfig{fsync: true}, o.fsyncEvents, "D': drain, fsync every write", "")
	if err != nil {
		return err
	}
	r.set("drain_fsync_per_s", t.perSec())
	return nil
}

// drainOnce publishes n job events in a world built from ec, then drains
// them with the deliverer and prints the details.
func drainOnce(ctx context.Context, o options, r *report, ec envConfig, n int, label, profile string) (timed, error) {
	e, err := newEnv(ctx, o, ec)
	if err != nil {
		return timed{}, err
	}
	defer e.close()
	pub, err := e.publishJobs(ctx, n)
	if err != nil {
		return timed{}, err
	}
	r.printf("  %-28s %7d events in %7.2f s = %8.0f/s", "backlog published (async)", n, pub.Seconds(), float64(n)/pub.Seconds())
	spec := e.delivererSpec(o)
	spec.CPUProfile = profile
	w := watch{progress: e.sink.received, stallAfter: o.stallAfter, timeout: runTimeout}
	if base, ok := strings.CutSuffix(profile, ".pprof"); ok {
		w.profile = base + "-broker.pprof"
		w.halfway = func(c *child) {
			_ = c.heap(base + "-heap-halfway.pprof")
			_ = c.dump(base + "-goroutines-halfway.txt")
		}
	}
	t, res, err := e.measureChild(ctx, spec, n, w)
	if err != nil {
		return t, err
	}
	r.run(label, t, res)
	e.featuresSeen(ctx, r, spec.LogPath, n)
	return t, e.checkSink(r, int64(n))
}

// featuresSeen prints the evidence that the production features ran: the
// attempt lines logged and the attempt records written.
func (e *env) featuresSeen(ctx context.Context, r *report, logPath string, n int) {
	raw, err := os.ReadFile(logPath)
	if err != nil {
		r.printf("  attempt log: %v", err)
		return
	}
	lines := bytes.Count(raw, []byte(`"message":"attempt"`))
	outcomes := "?"
	if info, err := e.res.Attempts.Info(ctx); err == nil {
		outcomes = strconv.FormatUint(info.State.Msgs, 10)
	}
	r.printf("  features: %d attempt log lines (%.1f MiB, %.0f bytes each), %s attempt records, for %d events",
		lines, float64(len(raw))/(1<<20), float64(len(raw))/float64(max(lines, 1)), outcomes, n)
}
