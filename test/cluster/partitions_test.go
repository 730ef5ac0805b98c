package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// TestPartitionedClusterLosesNothing runs 4,000 events of 60 organizations
// over three partitions at R3 on three nodes, through two deliverers, and
// shuts down the node that leads the most partition streams in the middle
// of the run (it comes back later). Every event must end delivered or
// dead-lettered, and the duplicate POSTs stay within what was in flight.
func TestPartitionedClusterLosesNothing(t *testing.T) {
	began := time.Now()
	sc := clusterStreams()
	sc.Partitions = 3
	c := newClusterWith(t, 3, sc.Mappings())
	_, js := connect(t, c.urls())
	res := ensure(t, js, sc)
	rc := newReceiver(t, 0)
	pub := publish.New(js, publish.Config{Streams: sc, URLs: httpOK, Destinations: loopback})
	cfg := delivererConfig(t, sc)
	const deliverers = 2
	for range deliverers {
		startDeliverer(t, c.urls(), cfg)
	}
	ctx := jstest.Context(t, 4*time.Minute)
	leaders := partitionLeaders(ctx, t, js, res)
	t.Logf("cluster up, %d partitions at R3 (leaders %v) and %d deliverers running in %v", sc.Partitions, leaders, deliverers, time.Since(began).Round(time.Millisecond))

	const n = 4000
	publishing := publishSpread(t, pub, rc.URL, n, 60)
	jstest.Eventually(t, 60*time.Second, func() bool { return rc.delivered.Load() >= n/3 }, "a third of the events delivered")
	// The node leading the most partitions goes away, then comes back.
	count := map[string]int{}
	for _, l := range partitionLeaders(ctx, t, js, res) {
		count[l]++
	}
	busiest := ""
	for name, k := range count {
		if busiest == "" || k > count[busiest] || (k == count[busiest] && name < busiest) {
			busiest = name
		}
	}
	down := c.index(busiest)
	atCount := rc.delivered.Load()
	c.shutdown(down)
	t.Logf("node %s (leader of %d partitions) shut down at %d delivered", busiest, count[busiest], atCount)
	jstest.Eventually(t, 60*time.Second, func() bool { return rc.delivered.Load() >= atCount+n/4 }, "deliveries going on with %s down", busiest)
	c.start(down)
	t.Logf("node %s restarted at %d delivered", busiest, rc.delivered.Load())

	events := publishing.wait(t)
	jstest.Eventually(t, 120*time.Second, func() bool { return partitionsDrained(ctx, js, sc, res) }, "every partition drained")
	tl := check(t, js, sc, rc, events)
	if tl.lost != 0 || tl.delivered+tl.deadLettered != n {
		t.Fatalf("%d events: %d delivered, %d dead-lettered, %d lost; want all delivered or dead-lettered", n, tl.delivered, tl.deadLettered, tl.lost)
	}
	pct := 100 * float64(tl.duplicates) / n
	t.Logf("%d events over %d partitions: %d delivered, %d dead-lettered, 0 lost; %d duplicate POSTs (%.2f %%); leaders after the run %v; run took %v",
		n, sc.Partitions, tl.delivered, tl.deadLettered, tl.duplicates, pct, partitionLeaders(ctx, t, js, res), time.Since(began).Round(time.Millisecond))
	// As in TestFailoverLosesNothing: the assertion is the in-flight bound
	// of the one failure (every deliverer's attempts and buffer, which its
	// 25 pulls share, each rounded up), the target of 1 % is logged above
	// (measured: 1.3 %). A buffer per pull instead of a shared one gave
	// 38 %: messages waited out AckWait in the client buffers.
	pulls := 1 + streams.Lanes*sc.Partitions
	if bound := deliverers * (cfg.Concurrency + cfg.Prefetch + pulls); tl.duplicates > bound {
		t.Errorf("%d duplicate POSTs, more than the %d events that can be in flight at the failure", tl.duplicates, bound)
	}
}

// partitionLeaders returns the leader of each partition stream, in
// partition order ("" while one has none).
func partitionLeaders(ctx context.Context, t testing.TB, js jetstream.JetStream, res *streams.Resources) []string {
	t.Helper()
	out := make([]string, len(res.Partitions))
	for i, p := range res.Partitions {
		out[i] = streamLeader(ctx, js, p.Partition.Stream)
	}
	return out
}

// partitionsDrained reports whether every deliver stream is empty and
// its consumers have nothing pending or awaiting an ack.
func partitionsDrained(ctx context.Context, js jetstream.JetStream, sc streams.Config, res *streams.Resources) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if !drained(ctx, res) {
		return false
	}
	for _, p := range res.Partitions {
		if msgs(ctx, js, p.Partition.Stream) != 0 {
			return false
		}
	}
	lag, err := streams.DeliverLag(ctx, js, sc)
	if err != nil {
		return false
	}
	for _, l := range lag {
		if l.Pending != 0 || l.AckPending != 0 {
			return false
		}
	}
	return true
}
