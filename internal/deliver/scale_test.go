package deliver

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
	"github.com/sixtyfour-oss/webhooks/pkg/sign"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// ledger counts, per event id, the requests a receiver got, and which
// deliverer sent each (told apart by the secret that verifies).
type ledger struct {
	mu       sync.Mutex
	byEvent  map[string]int
	bySigner map[string]int
}

func newLedger() *ledger { return &ledger{byEvent: map[string]int{}, bySigner: map[string]int{}} }

func (l *ledger) record(r received, secrets []string) {
	signer := "none"
	for _, s := range secrets {
		if sign.Verify(r.header.Get(sign.HeaderName), r.body, []string{s}, time.Now(), 0) == nil {
			signer = s
		}
	}
	l.mu.Lock()
	l.byEvent[r.header.Get(HeaderEventID)]++
	l.bySigner[signer]++
	l.mu.Unlock()
}

func (l *ledger) counts() (unique, total int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.byEvent {
		unique++
		total += n
	}
	return unique, total
}

func publishJobs(t *testing.T, h *harness, url string, n int) []string {
	t.Helper()
	ctx := jstest.Context(t, 60*time.Second)
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r, err := h.pub.PublishJob(ctx, "org_1", url, jobResult(fmt.Sprintf("task-%d", i)))
			if err != nil {
				errs <- err
				return
			}
			ids[i] = r.EventID
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return ids
}

func TestTwoDeliverersShareTheConsumer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streamsConfig())
	const secretA, secretB = testSecret, "sk_whsec_ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
	l := newLedger()
	rc := newReceiver(t, func(n int, r *http.Request) int { return http.StatusOK })
	h.start(Config{Concurrency: 16}, staticSecrets(secretA))
	h.start(Config{Concurrency: 16}, staticSecrets(secretB))

	const n = 600
	publishJobs(t, h, rc.URL, n)
	jstest.Eventually(t, 30*time.Second, func() bool { return rc.count() >= n }, "%d deliveries", n)
	ctx := jstest.Context(t, 10*time.Second)
	jstest.Eventually(t, 5*time.Second, func() bool { return h.pending(ctx) == 0 }, "WEBHOOKS drained")
	for _, r := range rc.requests() {
		l.record(r, []string{secretA, secretB})
	}
	unique, total := l.counts()
	if unique != n || total != n {
		t.Errorf("delivered %d unique events in %d requests, want %d and %d (no duplicates in the happy path)", unique, total, n, n)
	}
	if l.bySigner[secretA] == 0 || l.bySigner[secretB] == 0 {
		t.Errorf("both deliverers must deliver: by deliverer %d and %d", l.bySigner[secretA], l.bySigner[secretB])
	}
	t.Logf("deliverer A %d, deliverer B %d", l.bySigner[secretA], l.bySigner[secretB])
}

func TestKillingADelivererLosesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streamsConfig())
	rc := newReceiver(t, func(int, *http.Request) int {
		time.Sleep(2 * time.Millisecond) // a realistic receiver, so the kill lands mid-run
		return http.StatusOK
	})
	kill := h.startOwn(Config{Concurrency: 8, ShutdownTimeout: time.Millisecond}, staticSecrets(testSecret))
	h.start(Config{Concurrency: 8}, staticSecrets(testSecret))

	const n = 1000
	ids := publishJobs(t, h, rc.URL, n)
	jstest.Eventually(t, 30*time.Second, func() bool { return rc.count() >= n/5 }, "a fifth delivered")
	kill()

	ctx := jstest.Context(t, 60*time.Second)
	jstest.Eventually(t, 30*time.Second, func() bool { return h.finalCount(ctx, ids) == n }, "every event delivered")
	jstest.Eventually(t, 10*time.Second, func() bool { return h.pending(ctx) == 0 }, "WEBHOOKS drained")
	l := newLedger()
	for _, r := range rc.requests() {
		l.record(r, nil)
	}
	unique, total := l.counts()
	if unique != n {
		t.Errorf("delivered %d unique events, want %d", unique, n)
	}
	t.Logf("%d events, %d requests: %d duplicates from the killed deliverer's unacked work", n, total, total-unique)
}

func TestHangingDestinationDoesNotStopOthers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streamsConfig())
	release := make(chan struct{})
	slow := newReceiver(t, func(int, *http.Request) int { <-release; return http.StatusOK })
	healthy := newReceiver(t, nil)
	// Few workers and a per-host cap below the number of hanging events:
	// the waiting ones must not hold the workers healthy hosts need.
	h.start(Config{Concurrency: 8, PerHostConcurrency: 4}, staticSecrets(testSecret))
	t.Cleanup(func() { close(release) }) // runs before the deliverer stops
	ctx := jstest.Context(t, 30*time.Second)

	// "localhost" is another host than "127.0.0.1" for the per-host cap.
	_, port, _ := net.SplitHostPort(slow.Listener.Addr().String())
	const stuck = 20
	for i := range stuck {
		if _, err := h.pub.PublishWorkflow(ctx, "org_1", "http://localhost:"+port, workflowRun(fmt.Sprint("run-", i)), envelope.Block{TimeoutSeconds: 60}); err != nil {
			t.Fatal(err)
		}
	}
	jstest.Eventually(t, 5*time.Second, func() bool { return slow.count() >= 4 }, "slow host busy")
	const n = 200
	publishJobs(t, h, healthy.URL, n)
	jstest.Eventually(t, 20*time.Second, func() bool { return healthy.count() == n }, "healthy deliveries while a host hangs")
	if got := slow.count(); got != 4 {
		t.Errorf("hanging host got %d attempts in flight, want its cap of 4", got)
	}
}

func TestRealScheduleGaps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real 31 s retry schedule")
	}
	// Not parallel: it runs alone, before the package's parallel tests, so
	// their load does not stretch the gaps it measures.
	h := newHarness(t, streams.Config{AckWait: 30 * time.Second})
	rc := newReceiver(t, func(int, *http.Request) int { return http.StatusBadGateway })
	h.start(Config{Policy: retry.NewPolicy()}, nil)
	ctx := jstest.Context(t, 60*time.Second)
	receipt, err := h.pub.PublishJob(ctx, "org_1", rc.URL, jobResult("t"))
	if err != nil {
		t.Fatal(err)
	}
	h.finalOutcome("org_1", envelope.SourceJob, receipt.EventID, 45*time.Second)
	got := rc.requests()
	if len(got) != 6 {
		t.Fatalf("got %d attempts, want 6", len(got))
	}
	for i, want := range retry.Default() {
		gap := got[i+1].at.Sub(got[i].at)
		if gap < want || gap > want+250*time.Millisecond {
			t.Errorf("gap after attempt %d = %v, want %v (+250ms)", i+1, gap, want)
		} else {
			t.Logf("gap after attempt %d = %v (want %v)", i+1, gap.Round(time.Millisecond), want)
		}
	}
}
