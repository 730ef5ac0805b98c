package undelivered

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/deliver"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

const e2eSecret = "sk_whsec_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

var loopbackOnly = egress.Policy{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}

type secretFunc func(string, time.Time) ([]string, error)

func (f secretFunc) Signing(org string, now time.Time) ([]string, error) { return f(org, now) }

// startDeliverer runs a real deliverer with a fast schedule until the test ends.
func (e *env) startDeliverer() {
	e.t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(e.t)).Level(zerolog.ErrorLevel)
	client := egress.NewClient(loopbackOnly, egress.ClientConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	d, err := deliver.New(ctx, e.js, client, secretFunc(func(string, time.Time) ([]string, error) {
		return []string{e2eSecret}, nil
	}), deliver.Config{
		Streams: e.sc, URLs: envelope.URLPolicy{AllowHTTP: true}, Logger: &log, ShutdownTimeout: 5 * time.Second,
		Policy: retry.Policy{Schedule: retry.Schedule{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}},
	})
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.Run(ctx); err != nil {
			e.t.Errorf("deliverer: %v", err)
		}
	}()
	e.t.Cleanup(func() { cancel(); <-done; client.CloseIdleConnections() })
}

// outcomeOf waits for the event's final outcome of the given replay.
func (e *env) outcomeOf(req *envelope.Request, replay int) *envelope.Outcome {
	e.t.Helper()
	var o *envelope.Outcome
	jstest.Eventually(e.t, 10*time.Second, func() bool {
		o = jstest.Outcome(e.ctx, e.t, e.js, e.sc, req.OrgID, req.EventID)
		return o != nil && o.Final && o.Replay == replay
	}, "final outcome of replay %d of %s", replay, req.EventID)
	return o
}

// A replayed event is delivered by a real deliverer with the same event
// id, attempt 1, the unchanged body and a fresh valid signature, and leaves
// the undelivered stream.
func TestReplayEndToEnd(t *testing.T) {
	e := newEnv(t)
	type received struct {
		header http.Header
		body   []byte
	}
	var mu sync.Mutex
	var got []received
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, received{r.Header.Clone(), body})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	req, _ := e.deadLetter(event{org: "org_e2e", url: rc.URL + "/hook"})
	e.startDeliverer()

	sum, err := Replay(e.ctx, e.js, e.sc, Filter{OrgID: "org_e2e"}, ReplayOptions{})
	if err != nil || sum.Replayed != 1 {
		t.Fatalf("Replay = %+v, %v; want 1 replayed", sum, err)
	}
	if o := e.outcomeOf(req, 1); !o.Success || o.Attempts != 1 {
		t.Errorf("outcome = %+v, want delivered at attempt 1 of replay 1", o)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("the receiver got %d requests, want 1", len(got))
	}
	h, body := got[0].header, got[0].body
	if id := h.Get("Sixtyfour-Event-Id"); id != req.EventID {
		t.Errorf("Sixtyfour-Event-Id = %q, want %q", id, req.EventID)
	}
	if a := h.Get("Sixtyfour-Delivery-Attempt"); a != "1" {
		t.Errorf("Sixtyfour-Delivery-Attempt = %q, want 1", a)
	}
	if want, _ := req.Job.Body(); !bytes.Equal(body, want) {
		t.Errorf("body = %s, want the job envelope %s", body, want)
	}
	if err := sign.Verify(h.Get(sign.HeaderName), body, []string{e2eSecret}, time.Now(), sign.DefaultTolerance); err != nil {
		t.Errorf("signature of the replayed delivery: %v", err)
	}
	if left := e.undeliveredIDs(); len(left) != 0 {
		t.Errorf("undelivered still holds %v", left)
	}
}

// A replay that fails at once (the destination is refused at send time)
// races the delete of its old undelivered message; either way the event
// ends in the undelivered stream with the replay's failure record, and the
// next replay is the second one.
func TestReplayThatFailsAtOnceStaysUndelivered(t *testing.T) {
	e := newEnv(t)
	e.startDeliverer()
	const n = 5
	var reqs []*envelope.Request
	for i := range n {
		req, _ := e.deadLetter(event{org: "org_e2e", host: "10.255.0." + strconv.Itoa(i+1)})
		reqs = append(reqs, req)
	}
	for round := 1; round <= 2; round++ {
		sum, err := Replay(e.ctx, e.js, e.sc, Filter{}, ReplayOptions{})
		if err != nil || sum.Replayed != n {
			t.Fatalf("round %d: Replay = %+v, %v; want %d replayed", round, sum, err, n)
		}
		for _, req := range reqs {
			e.outcomeOf(req, round)
		}
		jstest.Eventually(t, 10*time.Second, func() bool {
			entries, err := List(e.ctx, e.js, e.sc, Filter{}, 0)
			if err != nil || len(entries) != n {
				return false
			}
			for _, en := range entries {
				if en.Failure == nil || en.Failure.Replay != round {
					return false
				}
			}
			return true
		}, "round %d: every event back in the undelivered stream with its replay-%d record", round, round)
	}
}
