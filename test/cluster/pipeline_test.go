package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/deliver"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// loopback is the unsafe allow-list the tests need to reach their
// receivers, which listen on 127.0.0.0/8 and nowhere else.
var loopback = egress.Policy{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}

// httpOK lets the publisher and deliverers accept plain-http loopback URLs.
var httpOK = envelope.URLPolicy{AllowHTTP: true}

// fastSchedule keeps the real schedule's shape at a fiftieth of its length.
var fastSchedule = retry.Schedule{20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond, 160 * time.Millisecond, 320 * time.Millisecond}

// clusterStreams is the production layout at three replicas, with a short
// AckWait so that the work of a deliverer that was cut off comes back soon.
func clusterStreams() streams.Config {
	return streams.Config{Replicas: 3, AckWait: 3 * time.Second}.WithDefaults()
}

// errorLog takes the deliverers' log lines. It drops the per-attempt lines
// (the down destination's dead-letter decisions are logged at error level
// by design), shows the first few others in the test log and counts them
// all by message; the counts are logged when the test ends. While a
// leader is gone, failures to dead-letter (the event is kept and retried)
// and to record an outcome (best effort: the record is then missing or
// stale) are expected; the tests check the events themselves.
type errorLog struct {
	t     testing.TB
	mu    sync.Mutex
	count map[string]int
	shown int
}

func newErrorLog(t testing.TB) *errorLog {
	e := &errorLog{t: t, count: map[string]int{}}
	t.Cleanup(func() { // registered before any deliverer starts, so it runs after they stop
		e.mu.Lock()
		defer e.mu.Unlock()
		if len(e.count) > 0 {
			t.Logf("deliverer log lines other than attempts, by message: %v", e.count)
		}
	})
	return e
}

func (e *errorLog) Write(p []byte) (int, error) {
	var line struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(p, &line)
	if line.Message == "attempt" {
		return len(p), nil
	}
	e.mu.Lock()
	e.count[line.Message]++
	show := e.shown < 3
	if show {
		e.shown++
	}
	e.mu.Unlock()
	if show {
		e.t.Logf("deliverer: %s", bytes.TrimSpace(p))
	}
	return len(p), nil
}

// delivererConfig is a test deliverer: the fast schedule, http to
// loopback, and error lines summed up by errorLog. Work in
// flight is kept to 32 attempts plus 32 buffered messages: on this broker
// (three replicas, fsync on every write, under -race) more does not deliver
// faster, it only leaves more unacknowledged work for a failure to repeat.
func delivererConfig(t testing.TB, sc streams.Config) deliver.Config {
	l := zerolog.New(newErrorLog(t)).Level(zerolog.ErrorLevel)
	return deliver.Config{
		Streams: sc, Policy: retry.Policy{Schedule: fastSchedule}, URLs: httpOK,
		Concurrency: 32, Prefetch: 32, ShutdownTimeout: 5 * time.Second, Logger: &l,
	}
}

// startDeliverer runs a deliverer on its own connection to urls (every
// server of the cluster) until the test ends. kill closes that connection
// abruptly, as if the process had died (it can no longer ack), then waits
// for Run to return.
func startDeliverer(t testing.TB, urls string, cfg deliver.Config) (kill func()) {
	t.Helper()
	nc, js := connect(t, urls)
	client := egress.NewClient(loopback, egress.ClientConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	d, err := deliver.New(ctx, js, client, nil, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
		client.CloseIdleConnections()
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return func() { nc.Close(); stop() }
}

// drained reports whether WEBHOOKS is empty and the consumer has nothing
// pending or awaiting an ack: nothing can be delivered again.
func drained(ctx context.Context, res *streams.Resources) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	si, err := res.Deliver.Info(ctx)
	if err != nil || si.State.Msgs != 0 {
		return false
	}
	ci, err := res.Consumer.Info(ctx)
	return err == nil && ci.NumPending == 0 && ci.NumAckPending == 0
}

// msgs returns how many messages a stream holds, or -1 when it cannot tell.
func msgs(ctx context.Context, js jetstream.JetStream, stream string) int64 {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return -1
	}
	info, err := s.Info(ctx)
	if err != nil {
		return -1
	}
	return int64(info.State.Msgs)
}
