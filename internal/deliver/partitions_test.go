package deliver

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/embedded"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// publishOrgs publishes one job event for each of n organizations.
func publishOrgs(t *testing.T, h *harness, url string, n int) []string {
	t.Helper()
	ctx := jstest.Context(t, 30*time.Second)
	ids := make([]string, n)
	for i := range n {
		r, err := h.pub.PublishJob(ctx, fmt.Sprintf("org_%d", i), url, jobResult(fmt.Sprintf("task-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = r.EventID
	}
	return ids
}

// receivedIDs returns how many times each event id reached rc.
func receivedIDs(rc *receiver) map[string]int {
	out := map[string]int{}
	for _, r := range rc.requests() {
		out[r.header.Get(HeaderEventID)]++
	}
	return out
}

// streamMsgs returns how many messages a stream holds.
func streamMsgs(ctx context.Context, t *testing.T, h *harness, name string) uint64 {
	t.Helper()
	return streamState(ctx, t, h, name).Msgs
}

// streamState returns a stream's state.
func streamState(ctx context.Context, t *testing.T, h *harness, name string) jetstream.StreamState {
	t.Helper()
	s, err := h.js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State
}

// With three partitions, every organization's events are stored on its
// partition and one deliverer delivers them all, from every partition.
func TestPartitionedDeliveryReachesEveryOrganization(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streams.Config{AckWait: 3 * time.Second, Partitions: 3})
	rc := newReceiver(t, nil)
	ids := publishOrgs(t, h, rc.URL, 60)
	ctx := jstest.Context(t, 30*time.Second)
	for _, p := range h.res.Partitions {
		info, err := p.Stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.LastSeq == 0 {
			t.Errorf("partition %s holds no event of 60 organizations", p.Partition.Label())
		}
	}
	if n := h.pending(ctx); n != 0 {
		t.Errorf("WEBHOOKS holds %d events; the mapping should have stored them on the partitions", n)
	}
	h.start(Config{}, nil)
	jstest.Eventually(t, 20*time.Second, func() bool { return len(receivedIDs(rc)) == len(ids) }, "every organization's event delivered")
	got := receivedIDs(rc)
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("event %s delivered %d times", id, got[id])
		}
	}
	jstest.Eventually(t, 10*time.Second, func() bool {
		for _, p := range h.res.Partitions {
			if streamMsgs(ctx, t, h, p.Partition.Stream) != 0 {
				return false
			}
		}
		return true
	}, "partitions empty after delivery")
}

// A deliverer restricted to a subset of the partitions leaves the others
// to other deliverers.
func TestOnlyPartitionsLeavesTheOthers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streams.Config{AckWait: 3 * time.Second, Partitions: 3})
	rc := newReceiver(t, nil)
	ids := publishOrgs(t, h, rc.URL, 30)
	h.start(Config{OnlyPartitions: []int{1}}, nil)
	want := 0
	for i := range ids {
		if h.streams.PartitionOf(fmt.Sprintf("org_%d", i)) == 1 {
			want++
		}
	}
	jstest.Eventually(t, 20*time.Second, func() bool { return rc.count() == want }, "partition 1's %d events delivered", want)
	ctx := jstest.Context(t, 10*time.Second)
	if n := streamMsgs(ctx, t, h, h.streams.PartitionStream(3, 0)) + streamMsgs(ctx, t, h, h.streams.PartitionStream(3, 2)); n != uint64(len(ids)-want) {
		t.Errorf("partitions 0 and 2 hold %d events, want %d left for other deliverers", n, len(ids)-want)
	}
	if _, err := New(ctx, h.js, nil, nil, Config{Streams: h.streams, OnlyPartitions: []int{3}}); err == nil {
		t.Error("OnlyPartitions 3 of 3 accepted")
	}
}

// Changing the partition count while events are published loses none
// and delivers each once: 1 to 3 (the mapping installed), then 3 to 5, the
// drained streams of 3 retired while the deliverer runs. A deliverer
// started with the old count finds the new streams by itself.
func TestRepartitionUnderTrafficLosesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streams.Config{AckWait: 3 * time.Second})
	rc := newReceiver(t, nil)
	h.start(Config{DiscoverEvery: 50 * time.Millisecond}, nil)
	ctx := jstest.Context(t, 60*time.Second)

	var (
		mu        sync.Mutex
		published []string
		stop      atomic.Bool
		wg        sync.WaitGroup
	)
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			r, err := h.pub.PublishJob(ctx, fmt.Sprintf("org_%d", i%40), rc.URL, jobResult(fmt.Sprintf("task-%d", i)))
			if err != nil {
				t.Errorf("publish %d: %v", i, err)
				return
			}
			mu.Lock()
			published = append(published, r.EventID)
			mu.Unlock()
		}
	})
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(published) }
	jstest.Eventually(t, 10*time.Second, func() bool { return count() >= 200 }, "traffic before the change")

	for _, to := range []int{3, 5} {
		sc := h.streams
		sc.Partitions = to
		if _, err := streams.Ensure(ctx, h.js, sc); err != nil {
			t.Fatal(err)
		}
		before := count()
		if err := embedded.SetMappings(h.srv, sc.Mappings()); err != nil {
			t.Fatal(err)
		}
		jstest.Eventually(t, 10*time.Second, func() bool { return count() >= before+200 }, "traffic after the change to %d", to)
		var stored uint64
		for k := range to {
			s, err := h.js.Stream(ctx, sc.PartitionStream(to, k))
			if err != nil {
				t.Fatal(err)
			}
			stored += s.CachedInfo().State.LastSeq
		}
		if stored == 0 {
			t.Fatalf("no event stored on the %d new partitions after the mapping changed", to)
		}
		if to == 5 {
			// The streams of 3 drain, then are retired.
			jstest.Eventually(t, 20*time.Second, func() bool {
				for k := range 3 {
					if streamMsgs(ctx, t, h, sc.PartitionStream(3, k)) != 0 {
						return false
					}
				}
				return true
			}, "partitions of 3 drained")
			// The attempt partitions of 3 go too once empty; records kept
			// there for AttemptsMaxAge hold them back (busy), which is no
			// concern of the deliver streams.
			removed, busy, err := streams.RetirePartitions(ctx, h.js, sc)
			if err != nil {
				t.Fatal(err)
			}
			for k := range 3 {
				name := sc.PartitionStream(3, k)
				if !slices.Contains(removed, name) || busy[name] != 0 {
					t.Fatalf("RetirePartitions = %v, busy %v; want %s removed", removed, busy, name)
				}
			}
			jstest.Eventually(t, 10*time.Second, func() bool { return count() >= before+400 }, "traffic after retiring")
		}
	}
	stop.Store(true)
	wg.Wait()

	mu.Lock()
	all := append([]string(nil), published...)
	mu.Unlock()
	jstest.Eventually(t, 30*time.Second, func() bool { return len(receivedIDs(rc)) >= len(all) }, "all %d events delivered", len(all))
	got := receivedIDs(rc)
	dups := 0
	for _, id := range all {
		switch got[id] {
		case 0:
			t.Errorf("event %s lost", id)
		case 1:
		default:
			dups++
		}
	}
	if dups > 0 {
		t.Errorf("%d of %d events delivered more than once", dups, len(all))
	}
	t.Logf("%d events published over the changes 1 -> 3 -> 5, every one delivered once", len(all))
}

// An organization that shares a partition (not a lane) with one whose
// backlog is draining, and the backlog's host too, is served at once: its
// event arrives while most of the backlog is still queued, and the backlog
// is then delivered in full.
func TestLaneMateIsNotQueuedBehindABacklog(t *testing.T) {
	t.Parallel()
	sc := streams.Config{AckWait: 10 * time.Second, Partitions: 3}
	h := newHarness(t, sc)
	noisy, quiet := "org_noisy", ""
	for i := 0; quiet == ""; i++ {
		if i == 10000 {
			t.Fatal("no organization in the noisy one's partition and another lane")
		}
		o := fmt.Sprintf("org_quiet_%d", i)
		if h.streams.PartitionOf(o) == h.streams.PartitionOf(noisy) && h.streams.LaneOf(o) != h.streams.LaneOf(noisy) {
			quiet = o
		}
	}
	slow := newReceiver(t, func(int, *http.Request) int { time.Sleep(5 * time.Millisecond); return http.StatusNoContent })
	fast := newReceiver(t, nil)
	const backlog = 1500
	ctx := jstest.Context(t, 60*time.Second)
	for i := range backlog {
		if _, err := h.pub.PublishJob(ctx, noisy, slow.URL, jobResult(fmt.Sprintf("task-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// Four slots for the shared host (127.0.0.1) at 5 ms a request: about
	// 2 s of backlog, of which the deliverer holds at most about 80
	// messages (prefetched or waiting for the host): the rest stays queued
	// on the stream.
	h.start(Config{Concurrency: 16, PerHostConcurrency: 4, Prefetch: 32, MaxWaiting: 32}, nil)
	jstest.Eventually(t, 20*time.Second, func() bool { return slow.count() >= 10 }, "the backlog draining")
	if _, err := h.pub.PublishJob(ctx, quiet, fast.URL, jobResult("quiet")); err != nil {
		t.Fatal(err)
	}
	jstest.Eventually(t, 20*time.Second, func() bool { return fast.count() == 1 }, "the quiet organization's event delivered")
	if n := slow.count(); n >= backlog/2 {
		t.Errorf("the quiet organization's event arrived after %d of the %d backlog events: it waited behind them", n, backlog)
	}
	jstest.Eventually(t, 30*time.Second, func() bool { return slow.count() >= backlog }, "the whole backlog delivered")
	if got := receivedIDs(slow); len(got) != backlog {
		t.Errorf("%d distinct backlog events delivered, want %d", len(got), backlog)
	}
}

// A poison message on a partition is dead-lettered under the organization
// and source of its subject, as on the unpartitioned stream: the mapped
// subject carries them as its last two tokens.
func TestPartitionedPoisonKeepsItsOrganization(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streams.Config{AckWait: 3 * time.Second, Partitions: 3})
	h.start(Config{}, nil)
	ctx := jstest.Context(t, 20*time.Second)
	msg := nats.NewMsg("webhooks.deliver.org_7.job")
	msg.Data = []byte("{not json")
	msg.Header.Set(nats.MsgIdHdr, "poison-1")
	if _, err := h.js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if n := h.pending(ctx); n != 0 {
		t.Fatalf("WEBHOOKS holds %d messages; the mapping should have stored the poison on a partition", n)
	}
	jstest.Eventually(t, 10*time.Second, func() bool { return h.undelivered(ctx, "org_7", envelope.SourceJob, "poison-1") != nil },
		"poison dead-lettered under org_7")
}
