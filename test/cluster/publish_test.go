package cluster

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
)

// countingJS counts the publish round trips pkg/publish makes and how many
// of them failed (and were then retried with the same Nats-Msg-Id).
type countingJS struct {
	jetstream.JetStream
	tries, failed atomic.Int64
}

func (c *countingJS) PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	c.tries.Add(1)
	ack, err := c.JetStream.PublishMsg(ctx, msg, opts...)
	if err != nil {
		c.failed.Add(1)
	}
	return ack, err
}

// TestPublishThroughLeaderChange publishes a stream of events from 16
// concurrent publishers with short round-trip timeouts while the WEBHOOKS
// stream leader is shut down. A publish that pkg/publish gives up on
// (ErrUnavailable) is published again with the same request, as a job
// runner would. Then every event acknowledged before the shutdown is
// published again, as if its ack had been lost in the failover: the new
// leader must answer "duplicate" for each. Afterwards the stream must hold
// exactly one message per event id: every acknowledged event stored, none
// stored twice.
func TestPublishThroughLeaderChange(t *testing.T) {
	began := time.Now()
	c := newCluster(t, 3)
	_, admin := connect(t, c.urls())
	sc := clusterStreams()
	res := ensure(t, admin, sc) // no deliverer: every stored event stays on WEBHOOKS
	_, js := connect(t, c.urls())
	counting := &countingJS{JetStream: js}
	pub := publish.New(counting, publish.Config{Streams: sc, URLs: httpOK, Destinations: loopback,
		TryTimeout: 150 * time.Millisecond, Tries: 20})

	const n, workers = 1500, 16
	ctx := jstest.Context(t, 90*time.Second)
	reqs := make([]*envelope.Request, n)
	var mu sync.Mutex
	var acked []int // indexes of reqs in the order they were acknowledged
	var next, stored, duplicates, resent atomic.Int64
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				req, err := envelope.NewJobRequest(time.Now(), "org_cluster", "http://127.0.0.1/ok", job(i))
				if err != nil {
					errs <- err
					return
				}
				reqs[i] = req
				for {
					r, err := pub.Publish(ctx, req)
					if err == nil {
						mu.Lock()
						acked = append(acked, i)
						mu.Unlock()
						stored.Add(1)
						if r.Duplicate {
							duplicates.Add(1)
						}
						break
					}
					if !errors.Is(err, publish.ErrUnavailable) || ctx.Err() != nil {
						errs <- err
						return
					}
					resent.Add(1)
					select { // the caller's own back-off before publishing the same request again
					case <-time.After(100 * time.Millisecond):
					case <-ctx.Done():
					}
				}
			}
		})
	}

	jstest.Eventually(t, 60*time.Second, func() bool { return stored.Load() >= n/3 }, "a third of the events stored")
	var old string
	jstest.Eventually(t, 10*time.Second, func() bool { old = streamLeader(ctx, admin, sc.DeliverStream); return old != "" }, "a stream leader")
	mu.Lock()
	before := append([]int(nil), acked...)
	mu.Unlock()
	at := time.Now()
	c.shutdown(c.index(old))
	jstest.Eventually(t, 30*time.Second, func() bool {
		l := streamLeader(ctx, admin, sc.DeliverStream)
		return l != "" && l != old
	}, "a new %s leader", sc.DeliverStream)
	t.Logf("stream leader %s shut down after %d events stored; new leader elected in %v", old, len(before), time.Since(at).Round(time.Millisecond))
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("publish: %v", err)
	}
	if again := republish(t, ctx, pub, reqs, before); again != len(before) {
		t.Errorf("%d of %d events acknowledged before the leader change were acknowledged as duplicates when published again, want all",
			again, len(before))
	}

	perID := storedIDs(t, ctx, res.Deliver)
	var missing, twice int
	for _, req := range reqs {
		id := req.EventID
		switch perID[id] {
		case 0:
			missing++
			t.Errorf("event %s acknowledged but not on %s", id, sc.DeliverStream)
		case 1:
		default:
			twice++
			t.Errorf("event %s stored %d times", id, perID[id])
		}
	}
	if len(perID) != n {
		t.Errorf("%s holds %d distinct event ids, want %d", sc.DeliverStream, len(perID), n)
	}
	t.Logf("%d events acknowledged: %d stored once, %d missing, %d twice; %d publish round trips, %d failed and retried with the same id, %d acks said duplicate, %d given up and published again by the caller; %d acknowledged before the leader change published again: all duplicates; run took %v",
		stored.Load(), n-missing-twice, missing, twice, counting.tries.Load(), counting.failed.Load(), duplicates.Load(), resent.Load(), len(before), time.Since(began).Round(time.Millisecond))
}

// republish publishes reqs[i] again for every i in which, 16 at a time,
// and returns how many were acknowledged as duplicates.
func republish(t testing.TB, ctx context.Context, pub *publish.Publisher, reqs []*envelope.Request, which []int) int {
	t.Helper()
	var dups atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, i := range which {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r, err := pub.Publish(ctx, reqs[i])
			if err != nil {
				t.Errorf("publish %s again: %v", reqs[i].EventID, err)
				return
			}
			if r.Duplicate {
				dups.Add(1)
			}
		})
	}
	wg.Wait()
	return int(dups.Load())
}

// storedIDs reads every message of stream by sequence and counts them per
// Nats-Msg-Id, checking that the header and the request's event id agree.
func storedIDs(t testing.TB, ctx context.Context, stream jetstream.Stream) map[string]int {
	t.Helper()
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	perID := map[string]int{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		id := msg.Header.Get(nats.MsgIdHdr)
		req, err := envelope.Decode(msg.Data, httpOK)
		if err != nil || req.EventID != id {
			t.Fatalf("message %d: Nats-Msg-Id %q does not match its request (%v)", seq, id, err)
		}
		perID[id]++
	}
	if got := uint64(len(perID)); got > info.State.Msgs {
		t.Fatalf("read %d distinct ids from %d messages", got, info.State.Msgs)
	}
	return perID
}
