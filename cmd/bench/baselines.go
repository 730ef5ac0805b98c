package main

import (
	"context"
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
// sign, POST, ack) draining the same backlog with the baseline workers.
func baselineBare(ctx context.Context, o options, r *report) error {
	e, err := newEnv(ctx, o, envConfig{})
	if err != nil {
		return err
	}
	defer e.close()
	if _, err := e.publishJobs(ctx, o.events); err != nil {
		return err
	}
	spec := e.spec(modeBare, o.workers(), o.prefetch)
	spec.CPUProfile = o.profilePath("bare")
	t, res, err := e.measureChild(ctx, spec, o.events, watch{
		progress: e.sink.received, stallAfter: o.stallAfter, timeout: runTimeout, profile: o.profilePath("bare-broker"),
	})
	if err != nil {
		return err
	}
	r.run("C: bare loop drain", t, res)
	r.set("baseline_bare_per_s", t.perSec())
	return e.checkSink(r, int64(o.events))
}

// publishJobs stores a backlog of n job events for the sink.
func (e *env) publishJobs(ctx context.Context, n int) (time.Duration, error) {
	now := time.Now()
	return e.publishBacklog(ctx, n, func(i int) (*nats.Msg, error) {
		return e.jobMsg(e.sink.url, "task-"+itoa(i), now)
	})
}
