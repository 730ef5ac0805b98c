package cluster

import (
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
)

// TestServerCrashLosesNothing runs a cluster of three real nats-server
// processes (sync_interval: always), kills the WEBHOOKS stream leader with
// SIGKILL while two deliverers are working through 5,000 events (published
// while the run goes on), and
// restarts it on the same store once the run has moved on. Every event
// must end delivered or dead-lettered, and the restarted node must catch up.
func TestServerCrashLosesNothing(t *testing.T) {
	bin := buildNATSServer(t)
	began := time.Now()
	pc := newProcCluster(t, bin, 3)
	_, js := connect(t, pc.urls())
	sc := clusterStreams()
	// ensure retries until the meta leader is elected and knows every peer.
	res := ensure(t, js, sc)
	// Servers without -race are fast: a receiver that takes 200 ms keeps
	// the crash in the middle of the run.
	rc := newReceiver(t, 200*time.Millisecond)
	pub := publish.New(js, publish.Config{Streams: sc, URLs: httpOK, Destinations: loopback})

	cfg := delivererConfig(t, sc)
	const deliverers = 2
	for range deliverers {
		startDeliverer(t, pc.urls(), cfg)
	}
	t.Logf("cluster up, streams at R3 and %d deliverers running in %v", deliverers, time.Since(began).Round(time.Millisecond))
	const n = 5000
	publishing := publishAll(t, pub, rc.URL, n) // in the background, through the crash below
	ctx := jstest.Context(t, 4*time.Minute)
	progress := func(share float64, what string) {
		t.Helper()
		want := int64(share * n)
		jstest.Eventually(t, 60*time.Second, func() bool { return rc.delivered.Load() >= want }, "%d events delivered %s", want, what)
	}
	phases := []phase{{"steady state", time.Now()}}

	progress(0.1, "before the crash")
	var old string
	jstest.Eventually(t, 10*time.Second, func() bool { old = streamLeader(ctx, js, sc.DeliverStream); return old != "" }, "a stream leader")
	alsoConsumer := consumerLeader(ctx, js, sc.DeliverStream, sc.Consumer) == old
	crashed := pc.index(old)
	at, atCount := time.Now(), rc.delivered.Load()
	phases = append(phases, phase{"SIGKILL", at})
	pc.kill(crashed)
	jstest.Eventually(t, 30*time.Second, func() bool {
		l := streamLeader(ctx, js, sc.DeliverStream)
		return l != "" && l != old
	}, "a new %s leader", sc.DeliverStream)
	t.Logf("stream leader %s killed (SIGKILL) at %d delivered (consumer leader too: %v); new leader elected in %v",
		old, atCount, alsoConsumer, time.Since(at).Round(time.Millisecond))

	progress(0.5, "on two nodes")
	phases = append(phases, phase{"restart", time.Now()})
	pc.start(crashed)
	jstest.Eventually(t, 60*time.Second, func() bool {
		return streamCurrent(ctx, js, sc.DeliverStream, 3) && consumerCurrent(ctx, js, sc.DeliverStream, sc.Consumer, 3) &&
			streamCurrent(ctx, js, sc.AttemptsStream, 3) && streamCurrent(ctx, js, sc.UndeliveredStream, 3)
	}, "node %s back on its store and every replica current:\n%s", old, pc.logTail(crashed))
	t.Logf("node %s restarted on its store and caught up at %d delivered", old, rc.delivered.Load())

	events := publishing.wait(t)
	jstest.Eventually(t, 90*time.Second, func() bool { return drained(ctx, res) }, "%s drained", sc.DeliverStream)
	tl := check(t, js, sc, rc, events)
	if tl.lost != 0 || tl.delivered+tl.deadLettered != n {
		t.Fatalf("%d events: %d delivered, %d dead-lettered, %d lost; want all delivered or dead-lettered", n, tl.delivered, tl.deadLettered, tl.lost)
	}
	if got, want := msgs(ctx, js, sc.UndeliveredStream), int64(tl.deadLettered); got != want {
		t.Errorf("%s holds %d events, want %d (only the down destination's)", sc.UndeliveredStream, got, want)
	}
	t.Logf("%d events: %d delivered, %d dead-lettered, 0 lost; %d duplicate POSTs (%.2f %%), %d POSTs in all; final outcome recorded for %d; run took %v (after the build)",
		n, tl.delivered, tl.deadLettered, tl.duplicates, 100*float64(tl.duplicates)/n, tl.posts, tl.finalOutcomes, time.Since(began).Round(time.Millisecond))
	logRepeats(t, rc, phases)
	// As in TestFailoverLosesNothing: one leader change can repeat at most
	// what every deliverer had been handed and not yet acknowledged.
	if bound := deliverers * (cfg.Concurrency + cfg.Prefetch); tl.duplicates > bound {
		t.Errorf("%d duplicate POSTs, more than the %d events that can be in flight at the crash", tl.duplicates, bound)
	}
}
