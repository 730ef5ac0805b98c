package deliver

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
)

// heldReceiver answers every request only once release is closed, and
// counts the requests it holds at once.
type heldReceiver struct {
	*httptest.Server
	release chan struct{}
	mu      sync.Mutex
	now     int // requests being held
	peak    int // most held at once
	done    int // requests answered
}

func newHeldReceiver(t *testing.T) *heldReceiver {
	hr := &heldReceiver{release: make(chan struct{})}
	hr.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hr.mu.Lock()
		hr.now++
		hr.peak = max(hr.peak, hr.now)
		hr.mu.Unlock()
		<-hr.release
		hr.mu.Lock()
		hr.now--
		hr.done++
		hr.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(func() {
		select {
		case <-hr.release:
		default:
			close(hr.release)
		}
		hr.Close()
	})
	return hr
}

// state returns the requests held now, the peak, and those answered.
func (hr *heldReceiver) state() (now, peak, done int) {
	hr.mu.Lock()
	defer hr.mu.Unlock()
	return hr.now, hr.peak, hr.done
}

// With OrgConcurrency set, an organization never has more attempts in
// flight than its cap, even with workers and host slots free, and another
// organization's event to the same host goes through meanwhile.
func TestOrgConcurrencyCapsOneOrganization(t *testing.T) {
	t.Parallel()
	const capped, events = 3, 20
	h := newHarness(t, streamsConfig())
	slow := newHeldReceiver(t)
	other := newReceiver(t, nil)
	h.start(Config{OrgConcurrency: capped}, nil)
	ctx := jstest.Context(t, 30*time.Second)
	for i := range events {
		if _, err := h.pub.PublishJob(ctx, "org_busy", slow.URL, jobResult(fmt.Sprintf("busy-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	jstest.Eventually(t, 10*time.Second, func() bool { now, _, _ := slow.state(); return now == capped }, "org_busy at its cap of %d", capped)
	if _, err := h.pub.PublishJob(ctx, "org_quiet", other.URL, jobResult("quiet")); err != nil {
		t.Fatal(err)
	}
	jstest.Eventually(t, 10*time.Second, func() bool { return other.count() == 1 }, "org_quiet delivered while org_busy waits")
	if now, peak, _ := slow.state(); now != capped || peak != capped {
		t.Fatalf("org_busy: %d held now, %d at most; want %d (its cap)", now, peak, capped)
	}
	close(slow.release)
	jstest.Eventually(t, 20*time.Second, func() bool { _, _, done := slow.state(); return done == events }, "all %d of org_busy's events delivered", events)
	if _, peak, _ := slow.state(); peak != capped {
		t.Errorf("org_busy had %d attempts in flight at once, want at most %d", peak, capped)
	}
}

// An organization cap that is negative is refused.
func TestOrgConcurrencyNegativeRefused(t *testing.T) {
	t.Parallel()
	if err := (Config{OrgConcurrency: -1}).withDefaults().validate(); err == nil {
		t.Fatal("OrgConcurrency -1 accepted")
	}
}
