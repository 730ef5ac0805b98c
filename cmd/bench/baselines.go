package main

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// runTimeout bounds one timed run of a baseline or a drain.
const runTimeout = 10 * time.Minute

// baselineHTTP is baseline A: the deliverer's HTTP client settings POSTing
// signed 1 KiB bodies straight to the sink with a worker pool, no
// JetStream. Requests per second, from "go" until the sink has them all.
func baselineHTTP(ctx context.Context, o options, r *report) error {
	e, err := newEnv(ctx, o, envConfig{})
	if err != nil {
		return err
	}
	defer e.close()
	spec := e.spec(modeHTTP, o.workers(), o.prefetch)
	spec.Count = o.events
	t, res, err := e.measureChild(ctx, spec, o.events, watch{progress: e.sink.received, stallAfter: o.stallAfter, timeout: runTimeout})
	if err != nil {
		return err
	}
	r.run("A: HTTP only", t, res)
	r.set("baseline_http_per_s", t.perSec())
	return e.checkSink(r, int64(o.events))
}

// baselineJS is baseline B: the same messages published asynchronously,
// then pulled and acked one by one, no HTTP. Messages per second of the
// consume+ack, until the work-queue stream is empty.
func baselineJS(ctx context.Context, o options, r *report) error {
	e, err := newEnv(ctx, o, envConfig{})
	if err != nil {
		return err
	}
	defer e.close()
	pub, err := e.publishJobs(ctx, o.events)
	if err != nil {
		return err
	}
	r.printf("  %-28s %7d events in %7.2f s = %8.0f/s", "B: async publish", o.events, pub.Seconds(), float64(o.events)/pub.Seconds())
	progress := func() int64 {
		left, err := e.remaining(ctx)
		if err != nil {
			return 0
		}
		return int64(o.events) - left
	}
	t, res, err := e.measureChild(ctx, e.spec(modeJS, 1, o.prefetch), o.events, watch{progress: progress, stallAfter: o.stallAfter, timeout: runTimeout})
	if err != nil {
		return err
	}
	r.run("B: pull consume + ack", t, res)
	r.set("baseline_js_per_s", t.perSec())
	return nil
}

// baselineBare is baseline C: the simplest correct loop (pull, decode,
// sign, POST, ack) draining the same backlog with the baseline workers,
// o.rounds times; the best round counts (see rounds).
func baselineBare(ctx context.Context, o options, r *report) error {
	best, err := rounds(o, func(round int) (float64, error) {
		t, err := bareOnce(ctx, o, r, round)
		return t.perSec(), err
	})
	if best > 0 {
		r.set("baseline_bare_per_s", best)
	}
	return err
}

// bareOnce is one round of baseline C in a fresh world.
func bareOnce(ctx context.Context, o options, r *report, round int) (timed, error) {
	e, err := newEnv(ctx, o, envConfig{})
	if err != nil {
		return timed{}, err
	}
	defer e.close()
	if _, err := e.publishJobs(ctx, o.events); err != nil {
		return timed{}, err
	}
	spec := e.spec(modeBare, o.workers(), o.prefetch)
	w := watch{progress: e.sink.received, stallAfter: o.stallAfter, timeout: runTimeout}
	if round == 1 {
		spec.CPUProfile, w.profile = o.profilePath("bare"), o.profilePath("bare-broker")
	}
	t, res, err := e.measureChild(ctx, spec, o.events, w)
	if err != nil {
		return t, err
	}
	r.run(roundLabel("C: bare loop drain", round, o.rounds), t, res)
	return t, e.checkSink(r, int64(o.events))
}

// rounds runs one round after another and returns the best result (0
// when the first round fails; a failed round ends the rounds). Runs
// on a shared machine are slowed by whatever else runs there, never sped
// up, so the best of a few rounds is the closest to what the code can do;
// the baseline and the full drain are measured the same way.
func rounds(o options, run func(round int) (float64, error)) (float64, error) {
	best := 0.0
	for round := 1; round <= o.rounds; round++ {
		v, err := run(round)
		if err != nil {
			return best, err
		}
		best = max(best, v)
	}
	return best, nil
}

// roundLabel numbers a run's label when there is more than one round.
func roundLabel(label string, round, of int) string {
	if of == 1 {
		return label
	}
	return fmt.Sprintf("%s %d/%d", label, round, of)
}

// publishJobs stores a backlog of n job events for the sink.
func (e *env) publishJobs(ctx context.Context, n int) (time.Duration, error) {
	now := time.Now()
	return e.publishBacklog(ctx, n, func(i int) (*nats.Msg, error) {
		return e.jobMsg(e.sink.url, "task-"+itoa(i), now)
	})
}
