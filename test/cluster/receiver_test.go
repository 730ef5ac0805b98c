package cluster

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/deliver"
)

// Receiver paths: how a destination answers.
const (
	pathOK    = "/ok"    // 204 every time
	pathFlaky = "/flaky" // 503 to the first attempt, then 204: one retry per event
	pathDown  = "/down"  // 500 every time: dead-lettered after six attempts
)

// receiver is an httptest server that counts, per Sixtyfour-Event-Id, the
// POSTs it answered with a 2xx and all the POSTs it got. It takes latency
// to answer each, as a real receiver's processing would.
type receiver struct {
	*httptest.Server
	mu        sync.Mutex
	succeeded map[string]int
	posts     map[string]int
	delivered atomic.Int64 // events answered 2xx at least once
	repeats   []time.Time  // when each 2xx-answered POST beyond an event's first came
}

func newReceiver(t testing.TB, latency time.Duration) *receiver {
	rc := &receiver{succeeded: map[string]int{}, posts: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if latency > 0 {
			select {
			case <-time.After(latency):
			case <-r.Context().Done():
			}
		}
		id := r.Header.Get(deliver.HeaderEventID)
		code := http.StatusNoContent
		switch {
		case r.URL.Path == pathDown:
			code = http.StatusInternalServerError
		case r.URL.Path == pathFlaky && r.Header.Get(deliver.HeaderAttempt) == "1":
			code = http.StatusServiceUnavailable
		}
		rc.mu.Lock()
		rc.posts[id]++
		if code < 300 {
			if rc.succeeded[id]++; rc.succeeded[id] == 1 {
				rc.delivered.Add(1)
			} else {
				rc.repeats = append(rc.repeats, time.Now())
			}
		}
		rc.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// counts returns the 2xx-answered POSTs of an event and all its POSTs.
func (rc *receiver) counts(id string) (succeeded, posts int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.succeeded[id], rc.posts[id]
}

// repeatsBetween counts the duplicate POSTs received in [from, to).
func (rc *receiver) repeatsBetween(from, to time.Time) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, at := range rc.repeats {
		if !at.Before(from) && at.Before(to) {
			n++
		}
	}
	return n
}

// plan is the destination of event i of a run: every 100th is down (it
// must be dead-lettered), every 25th of the others is flaky, the rest ok.
func plan(i int) string {
	switch {
	case i%100 == 99:
		return pathDown
	case i%25 == 24:
		return pathFlaky
	default:
		return pathOK
	}
}
