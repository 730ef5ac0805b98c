package deliver

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/metrics"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// waitingGauge reads the deliverer's messages waiting for a host from reg.
func waitingGauge(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == metrics.Namespace+"_attempts_waiting_for_host" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}

// A host that holds every request fills the waiting room with its
// organization's messages, but the other lanes' pulls go on: an
// organization in another partition, whose host is free, is delivered
// event after event while the held host's backlog waits (before, every
// lane's pull waited for a place once the room was full). Once the host
// answers, its whole backlog is delivered.
func TestHeldHostDoesNotStopTheOtherLanes(t *testing.T) {
	t.Parallel()
	sc := streams.Config{AckWait: 30 * time.Second, Partitions: 3}
	h := newHarness(t, sc)
	held, quiet := "org_held", ""
	for i := 0; quiet == ""; i++ {
		if o := fmt.Sprintf("org_quiet_%d", i); h.streams.PartitionOf(o) != h.streams.PartitionOf(held) {
			quiet = o
		}
	}
	slow := newHeldReceiver(t)
	fast := newReceiver(t, nil)
	const perHost, room, backlog = 2, 16, 120
	reg := prometheus.NewRegistry()
	h.start(Config{Concurrency: 32, PerHostConcurrency: perHost, MaxWaiting: room, Prefetch: 32, Metrics: metrics.NewDeliverer(reg)}, nil)
	ctx := jstest.Context(t, 60*time.Second)
	for i := range backlog {
		if _, err := h.pub.PublishJob(ctx, held, slow.URL, jobResult(fmt.Sprintf("held-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	jstest.Eventually(t, 10*time.Second, func() bool { now, _, _ := slow.state(); return now == perHost }, "the held host at its %d slots", perHost)
	jstest.Eventually(t, 10*time.Second, func() bool { return waitingGauge(t, reg) >= room }, "the room full of messages for the held host")
	// Several events, one after the other: an idle lane's pull is already
	// waiting for its next message, so its first one always went through.
	_, port, _ := net.SplitHostPort(fast.Listener.Addr().String())
	const quietEvents = 5
	for i := range quietEvents {
		if _, err := h.pub.PublishJob(ctx, quiet, "http://localhost:"+port, jobResult(fmt.Sprintf("quiet-%d", i))); err != nil {
			t.Fatal(err)
		}
		// Within 5 s: the held attempts time out after 10 s (a job's
		// attempt timeout), which would free places in the room.
		jstest.Eventually(t, 5*time.Second, func() bool { return fast.count() == i+1 }, "quiet event %d delivered while the held host holds its backlog", i)
	}
	close(slow.release)
	jstest.Eventually(t, 30*time.Second, func() bool { _, _, done := slow.state(); return done >= backlog }, "the held backlog delivered") // the held ones were attempted again
}
