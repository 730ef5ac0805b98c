package main

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// isolationTimeoutSeconds is the workflow block timeout of every event of
// the isolation runs.
const isolationTimeoutSeconds = 10

// isolated is what one isolation run measured.
type isolated struct {
	ratio            float64 // healthy delivered/s in the window ÷ healthy offered/s
	offered, handled int     // healthy events published / received in the window
	faulty           int     // events sent to the black hole
	d                dist    // healthy publish-to-receipt latency
	peak             consumerPeak
	connections      int64 // connections the deliverer opened to the black hole
}

// isolation offers o.isolationRate workflow events/s (timeout_seconds 10)
// of which o.isolationFault go to a destination that accepts connections
// and never answers, and measures how the healthy events fare:
// isolation_ratio is healthy events received per second during the
// measured window divided by healthy events offered per second in it (1.0:
// the faulty destination takes nothing from the healthy ones), and
// isolation_p99_ms their p99 publish-to-receipt latency. The consumer's
// NumAckPending is polled throughout and must stay below MaxAckPending.
// With -isolation-control the same load runs first with no faulty
// destination, for comparison.
func isolation(ctx context.Context, o options, r *report) error {
	if o.isolationControl {
		ctl, err := isolationRun(ctx, o, 0)
		if err != nil {
			return fmt.Errorf("control: %w", err)
		}
		r.printf("  control, no faulty destination:  healthy %d offered, %d received in window, ratio %.3f; %s; max ack pending %d",
			ctl.offered, ctl.handled, ctl.ratio, ctl.d, ctl.peak.AckPending)
	}
	iso, err := isolationRun(ctx, o, o.isolationFault)
	if err != nil {
		return err
	}
	r.printf("  %.0f%% to a never-answering host:  healthy %d offered, %d received in window, ratio %.3f; %s",
		100*o.isolationFault, iso.offered, iso.handled, iso.ratio, iso.d)
	r.printf("  faulty: %d events, %d connections held open by the black hole; max num_ack_pending %d of max_ack_pending %d (max num_waiting %d, %d polls)",
		iso.faulty, iso.connections, iso.peak.AckPending, iso.peak.MaxAckPending, iso.peak.Waiting, iso.peak.Polls)
	r.printf("  isolation_ratio = healthy received/s ÷ healthy offered/s over the %v window", o.isolationDuration)
	r.set("isolation_ratio", iso.ratio)
	r.set("isolation_p99_ms", ms(iso.d.p99))
	if iso.peak.AckPending >= iso.peak.MaxAckPending {
		return fmt.Errorf("num_ack_pending reached max_ack_pending (%d): the server stopped delivering", iso.peak.MaxAckPending)
	}
	return nil
}

// isolationRun runs the isolation load with a share fault of faulty events.
func isolationRun(ctx context.Context, o options, fault float64) (isolated, error) {
	var out isolated
	e, err := newEnv(ctx, o, envConfig{blackhole: fault > 0})
	if err != nil {
		return out, err
	}
	defer e.close()
	c, err := startChild(e.delivererSpec(o))
	if err != nil {
		return out, err
	}
	defer func() { _, _, _ = c.stop(ctx) }()
	if err := c.begin(); err != nil {
		return out, err
	}
	peak := e.watchConsumer(ctx, 100*time.Millisecond)
	from := time.Now().Add(o.warmup)
	healthy := 0
	sent, err := e.publishAtRate(ctx, o.isolationRate, o.warmup+o.isolationDuration, func(i int, now time.Time) (*nats.Msg, error) {
		if int(float64(i+1)*fault) > int(float64(i)*fault) { // an even spread of the faulty share
			out.faulty++
			return e.workflowMsg(e.hole.url, "faulty-"+itoa(i), now, isolationTimeoutSeconds)
		}
		healthy++
		if !now.Before(from) {
			out.offered++
		}
		return e.workflowMsg(e.sink.url, stamp(now, i), now, isolationTimeoutSeconds)
	})
	end := time.Now()
	if err != nil {
		peak()
		return out, err
	}
	samples := e.sink.snapshot()
	for _, s := range samples {
		if s.recv >= from.UnixNano() && s.recv < end.UnixNano() {
			out.handled++
		}
	}
	if out.offered > 0 {
		out.ratio = float64(out.handled) / float64(out.offered)
	}
	lost := e.awaitSink(ctx, int64(healthy))
	out.peak = peak()
	out.d = distribution(latencies(e.sink.snapshot(), from))
	if e.hole != nil {
		out.connections = e.hole.accepted.Load()
	}
	if lost > 0 {
		return out, fmt.Errorf("%d of %d healthy events not delivered within %v of the end (%d published in all)", lost, healthy, settleTimeout, sent)
	}
	return out, nil
}
