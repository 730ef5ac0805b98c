package deliver

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestBreakerStateMachine(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	var transitions []string
	b := newBreaker(3, time.Second, 4*time.Second, clock.Now, func(host, from, to string, failures, open int) {
		transitions = append(transitions, from+">"+to)
	})
	timeout := retry.Outcome{Kind: retry.KindTimeout}
	ok500 := retry.Outcome{Kind: retry.KindResponse, StatusCode: 500}
	allowed := func() bool { ok, _ := b.allow("h"); return ok }

	// Answers, even 5xx, never trip it.
	for range 10 {
		if !allowed() {
			t.Fatal("closed circuit refused an attempt")
		}
		b.record("h", ok500)
	}
	// Three consecutive timeouts open it.
	for range 3 {
		allowed()
		b.record("h", timeout)
	}
	if ok, reason := b.allow("h"); ok || !strings.Contains(reason, "circuit open for host h after 3 consecutive failures") {
		t.Fatalf("open circuit: allowed=%t reason=%q", ok, reason)
	}
	if allowed() {
		t.Fatal("open circuit let an attempt through")
	}
	// After the open period: exactly one probe at a time.
	clock.Add(time.Second)
	if !allowed() {
		t.Fatal("half-open circuit refused the probe")
	}
	if allowed() {
		t.Fatal("half-open circuit let a second attempt through while probing")
	}
	// A failed probe opens it for twice as long.
	b.record("h", timeout)
	clock.Add(1500 * time.Millisecond)
	if allowed() {
		t.Fatal("circuit reopened for less than twice the open period")
	}
	clock.Add(500 * time.Millisecond)
	if !allowed() {
		t.Fatal("no probe after the doubled open period")
	}
	// An abandoned probe lets the next attempt probe.
	b.abandon("h")
	if !allowed() {
		t.Fatal("abandoned probe blocked the next one")
	}
	// A successful probe closes it, and healthy hosts keep no state.
	b.record("h", retry.Outcome{Kind: retry.KindResponse, StatusCode: 204})
	if !allowed() || !allowed() || len(b.hosts) != 0 {
		t.Fatalf("circuit not closed after a good probe (hosts=%d)", len(b.hosts))
	}
	want := "closed>open half_open>open open>half_open half_open>closed"
	got := strings.Join(transitions, " ")
	if !strings.Contains(got, "closed>open") || !strings.HasSuffix(got, "half_open>closed") {
		t.Errorf("transitions = %s, want the sequence of %s", got, want)
	}
	// Other hosts are unaffected throughout.
	if ok, _ := b.allow("other"); !ok {
		t.Error("another host's circuit is affected")
	}
}

func TestBreakerShieldsAHangingHost(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streamsConfig())
	var hang atomic.Bool
	hang.Store(true)
	release := make(chan struct{})
	slow := newReceiver(t, func(int, *http.Request) int {
		if hang.Load() {
			<-release
		}
		return http.StatusOK
	})
	t.Cleanup(func() { close(release) })
	healthy := newReceiver(t, nil)
	var logs jstest.LogBuffer
	log := zerolog.New(&logs)
	h.start(Config{
		BreakerThreshold: 3, BreakerOpenFor: 300 * time.Millisecond, BreakerMaxOpenFor: 300 * time.Millisecond,
		Policy: retry.Policy{Schedule: retry.Schedule{200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond}},
		Logger: &log,
	}, nil)
	ctx := jstest.Context(t, 30*time.Second)

	_, port := splitPort(slow.Listener.Addr().String())
	slowURL := "http://localhost:" + port
	var ids []string
	for i := range 6 {
		r, err := h.pub.PublishWorkflow(ctx, "org_1", slowURL, workflowRun("run-"+string(rune('a'+i))), envelope.Block{TimeoutSeconds: 0.3})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.EventID)
	}
	jstest.Eventually(t, 10*time.Second, func() bool { return logs.Contains(`"to":"open"`) }, "circuit open")
	sentWhenOpen := slow.count()
	publishJobs(t, h, healthy.URL, 50)
	jstest.Eventually(t, 10*time.Second, func() bool { return healthy.count() == 50 }, "healthy deliveries while the circuit is open")

	// Attempts while open fail without a request: the slow host sees only
	// half-open probes, one per open period.
	jstest.Eventually(t, 10*time.Second, func() bool { return logs.Contains(`"from":"half_open","to":"open"`) }, "a failed probe")
	if extra := slow.count() - sentWhenOpen; extra > 3 {
		t.Errorf("the hanging host got %d requests while its circuit was open, want only probes", extra)
	}
	var shortCircuited bool
	for _, id := range ids {
		if o := h.outcome(ctx, "org_1", envelope.SourceWorkflow, id); o != nil && strings.Contains(o.Error, "circuit open") {
			shortCircuited = true
		}
	}
	if !shortCircuited {
		t.Error("no attempt failed fast with the circuit open")
	}

	// The host recovers: a probe closes the circuit and deliveries resume.
	hang.Store(false)
	jstest.Eventually(t, 10*time.Second, func() bool { return logs.Contains(`"to":"closed"`) }, "circuit closed after recovery")
	r, err := h.pub.PublishWorkflow(ctx, "org_1", slowURL, workflowRun("after"), envelope.Block{TimeoutSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if o := h.finalOutcome("org_1", envelope.SourceWorkflow, r.EventID, 10*time.Second); !o.Success {
		t.Errorf("after recovery: %+v", o)
	}
}

// stuckPull is a pull that never yields a message, as seen in the stall.
type stuckPull struct {
	once sync.Once
	stop chan struct{}
}

func (p *stuckPull) Next(...jetstream.NextOpt) (jetstream.Msg, error) {
	<-p.stop
	return nil, jetstream.ErrMsgIteratorClosed
}
func (p *stuckPull) Stop()  { p.once.Do(func() { close(p.stop) }) }
func (p *stuckPull) Drain() { p.Stop() }

func TestWatchdogRecreatesAStuckPull(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streamsConfig())
	rc := newReceiver(t, nil)
	ctx := jstest.Context(t, 30*time.Second)
	var logs jstest.LogBuffer
	log := zerolog.New(&logs)
	d, err := New(ctx, h.js, egress.NewClient(loopbackOnly, egress.ClientConfig{}), nil, Config{
		Streams: h.streams, URLs: envelope.URLPolicy{AllowHTTP: true}, StallTimeout: 300 * time.Millisecond, Logger: &log,
	})
	if err != nil {
		t.Fatal(err)
	}
	real := d.sources[0].messages
	var pulls atomic.Int32
	d.sources[0].messages = func(opts ...jetstream.PullMessagesOpt) (jetstream.MessagesContext, error) {
		if pulls.Add(1) == 1 {
			return &stuckPull{stop: make(chan struct{})}, nil
		}
		return real(opts...)
	}
	runCtx, cancel := contextWithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })

	publishJobs(t, h, rc.URL, 20)
	jstest.Eventually(t, 10*time.Second, func() bool { return rc.count() == 20 }, "deliveries after the watchdog re-created the pull")
	if pulls.Load() < 2 || !logs.Contains("watchdog: no messages pulled") {
		t.Errorf("pulls = %d; watchdog log: %t", pulls.Load(), logs.Contains("watchdog"))
	}
}
