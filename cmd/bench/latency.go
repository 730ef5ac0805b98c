package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
)

// settleTimeout bounds the wait for the last events of an offered load.
const settleTimeout = 30 * time.Second

// latency offers the deliverer steady loads of 1,000 and 5,000 events/s
// (o.warmup unmeasured, then o.loadDuration measured) and reports the
// publish-to-receipt latency of the measured events: each event carries
// its publish time in its task_id, which the sink reads.
func latency(ctx context.Context, o options, r *report) error {
	for _, load := range []struct {
		rate     float64
		p50, p99 string
	}{{1000, "p50_ms_1k", "p99_ms_1k"}, {5000, "", "p99_ms_5k"}} {
		l, err := offeredLoad(ctx, o, r, load.rate)
		if err != nil {
			return fmt.Errorf("%.0f/s: %w", load.rate, err)
		}
		if load.p50 != "" {
			r.set(load.p50, ms(l.p50))
		}
		r.set(load.p99, ms(l.p99))
	}
	return nil
}

// dist is a latency distribution.
type dist struct {
	n             int
	p50, p99, max time.Duration
}

// distribution sorts lat and reads its percentiles (nearest rank).
func distribution(lat []time.Duration) dist {
	if len(lat) == 0 {
		return dist{}
	}
	slices.Sort(lat)
	rank := func(q float64) time.Duration {
		i := int(q*float64(len(lat))+0.999999) - 1
		return lat[max(0, min(i, len(lat)-1))]
	}
	return dist{n: len(lat), p50: rank(0.50), p99: rank(0.99), max: lat[len(lat)-1]}
}

// String describes the distribution in milliseconds.
func (d dist) String() string {
	return fmt.Sprintf("p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d events)", ms(d.p50), ms(d.p99), ms(d.max), d.n)
}

// latencies returns the publish-to-receipt times of the samples published
// at or after from.
func latencies(samples []sample, from time.Time) []time.Duration {
	var out []time.Duration
	for _, s := range samples {
		if s.pub >= from.UnixNano() {
			out = append(out, time.Duration(s.recv-s.pub))
		}
	}
	return out
}

// offeredLoad runs one steady load of job events against a running
// deliverer.
func offeredLoad(ctx context.Context, o options, r *report, rate float64) (dist, error) {
	e, err := newEnv(ctx, o, envConfig{})
	if err != nil {
		return dist{}, err
	}
	defer e.close()
	spec := e.delivererSpec(o)
	spec.CPUProfile = o.profilePath(fmt.Sprintf("load-%.0f", rate))
	c, err := startChild(spec)
	if err != nil {
		return dist{}, err
	}
	defer func() { _, _, _ = c.stop(ctx) }()
	if err := c.begin(); err != nil {
		return dist{}, err
	}
	stopProfile, err := profileSelf(o.profilePath(fmt.Sprintf("load-%.0f-broker", rate)))
	if err != nil {
		return dist{}, err
	}
	defer stopProfile()
	peak := e.watchConsumer(ctx, 200*time.Millisecond)
	cpu0, self0 := procCPU(c.pid()), selfCPU()
	from := time.Now().Add(o.warmup)
	measured := 0
	sent, err := e.publishAtRate(ctx, rate, o.warmup+o.loadDuration, func(i int, now time.Time) (*nats.Msg, error) {
		if !now.Before(from) {
			measured++
		}
		return e.jobMsg(e.sink.url, stamp(now, i), now)
	})
	if err != nil {
		peak()
		return dist{}, err
	}
	end := time.Now()
	lost := e.awaitSink(ctx, int64(sent))
	childCPU, selfUsed := procCPU(c.pid())-cpu0, selfCPU()-self0
	p := peak()
	d := distribution(latencies(e.sink.snapshot(), from))
	r.printf("  %5.0f/s offered for %v (+%v warm-up; achieved %.0f/s): %s; CPU ms/event: deliverer %.3f, broker+sink+publisher %.3f; max ack pending %d",
		rate, o.loadDuration, o.warmup, float64(measured)/end.Sub(from).Seconds(), d,
		cpuPerEvent(childCPU, sent), cpuPerEvent(selfUsed, sent), p.AckPending)
	if lost > 0 {
		// Overload: report what arrived, flagged; the true tail is longer.
		r.printf("  OVERLOADED: %d of %d events still undelivered %v after the load ended; the percentiles above leave them out",
			lost, sent, settleTimeout)
		return d, nil
	}
	return d, e.checkSink(r, int64(sent))
}

// awaitSink waits until the sink has n events or settleTimeout passes; it
// returns how many are missing.
func (e *env) awaitSink(ctx context.Context, n int64) int64 {
	deadline := time.Now().Add(settleTimeout)
	for e.sink.received() < n && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	return max(0, n-e.sink.received())
}
