package logwriter_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sixtyfour-oss/webhooks/internal/deliver"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/pgstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/sqlitestore"
	"github.com/sixtyfour-oss/webhooks/internal/logwriter"
	"github.com/sixtyfour-oss/webhooks/internal/metrics"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// loopback is the unsafe allow-list the tests need to reach their receivers.
var loopback = egress.Policy{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}

// fastSchedule retries after 20 ms, then 40 ms, ...
var fastSchedule = retry.Schedule{20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond, 160 * time.Millisecond, 320 * time.Millisecond}

// fastWriter is a writer config that retries a failed write quickly.
func fastWriter(sc streams.Config) logwriter.Config {
	return logwriter.Config{Streams: sc, RetryDelay: 50 * time.Millisecond, MaxRetryDelay: 500 * time.Millisecond,
		WriteTimeout: 2 * time.Second}
}

// sqliteStore opens a fresh SQLite log in the test's temp dir.
func sqliteStore(t *testing.T) (*sqlitestore.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "deliveries.db")
	s, err := sqlitestore.Open(jstest.Context(t, 30*time.Second), path, logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// pgStore opens a store on url (a pgtest database).
func pgStore(t *testing.T, url string) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(jstest.Context(t, 30*time.Second), url, logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// startWriter runs a writer on store until the test ends or stop is
// called; stop waits for Run to return.
func startWriter(t *testing.T, js jetstream.JetStream, store logstore.Store, cfg logwriter.Config) (*logwriter.Writer, func()) {
	t.Helper()
	w, err := logwriter.New(t.Context(), js, store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w, background(t, "writer", w.Run)
}

// background runs run until the test ends or the returned stop is
// called; stop cancels its context and waits for it to return.
func background(t *testing.T, name string, run func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := run(ctx); err != nil {
			t.Errorf("%s Run: %v", name, err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// startDeliverer runs a real deliverer retrying on fastSchedule until the
// test ends.
func startDeliverer(t *testing.T, js jetstream.JetStream, sc streams.Config) {
	t.Helper()
	client := egress.NewClient(loopback, egress.ClientConfig{})
	cfg := deliver.Config{Streams: sc, Policy: retry.Policy{Schedule: fastSchedule},
		URLs: envelope.URLPolicy{AllowHTTP: true}, ShutdownTimeout: 5 * time.Second}
	d, err := deliver.New(t.Context(), js, client, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.CloseIdleConnections) // after the deliverer stopped: cleanups run last first
	background(t, "deliverer", d.Run)
}

// flakyReceiver answers the first POST of every event with 500 and the
// second with 200, so that every event has exactly two attempts. It
// counts the POSTs per event id.
type flakyReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	posts map[string]int
}

func newFlakyReceiver(t *testing.T) *flakyReceiver {
	r := &flakyReceiver{posts: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		id := req.Header.Get("Sixtyfour-Event-Id")
		r.mu.Lock()
		r.posts[id]++
		n := r.posts[id]
		r.mu.Unlock()
		if n == 1 {
			http.Error(w, "not yet", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(r.Close)
	return r
}

// delivered returns how many of ids were answered 200.
func (r *flakyReceiver) delivered(ids []string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, id := range ids {
		if r.posts[id] >= 2 {
			n++
		}
	}
	return n
}

// publishJobs publishes n job results to url and returns their event ids.
func publishJobs(t *testing.T, pub *publish.Publisher, url, prefix string, n int) []string {
	t.Helper()
	ctx := jstest.Context(t, 30*time.Second)
	ids := make([]string, n)
	for i := range ids {
		job := envelope.JobResult{TaskID: fmt.Sprintf("%s-%d", prefix, i), Status: envelope.StatusCompleted,
			TaskType: "find_email", Result: []byte(`{"email":"a@b.c"}`)}
		r, err := pub.PublishJob(ctx, "org_1", url, job)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = r.EventID
	}
	return ids
}

// storedAttempts returns the attempt numbers the store holds for each of
// ids (in round 0), or an error for an event it does not hold yet.
func storedAttempts(ctx context.Context, store logstore.Store, ids []string) (map[string][]int, error) {
	out := make(map[string][]int, len(ids))
	for _, id := range ids {
		tl, err := store.Timeline(ctx, "", id)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		for _, r := range tl.Rounds {
			for _, a := range r.AttemptList {
				out[id] = append(out[id], a.Attempt)
			}
		}
	}
	return out, nil
}

// waitAllStored waits until the store holds attempts 1 and 2 of every
// event of ids and nothing else.
func waitAllStored(t *testing.T, store logstore.Store, ids []string, within time.Duration) {
	t.Helper()
	ctx := jstest.Context(t, within+10*time.Second)
	var last error
	jstest.Eventually(t, within, func() bool {
		got, err := storedAttempts(ctx, store, ids)
		if err != nil {
			last = err
			return false
		}
		for _, id := range ids {
			if a := got[id]; len(a) != 2 || a[0] != 1 || a[1] != 2 {
				last = fmt.Errorf("%s: stored attempts %v, want [1 2]", id, a)
				return false
			}
		}
		return true
	}, "store holds exactly attempts [1 2] of every event (last: %v)", &lastErr{&last})
}

// lastErr prints the error a condition saw last, when the wait fails.
type lastErr struct{ err *error }

func (l *lastErr) String() string {
	if *l.err == nil {
		return "none"
	}
	return (*l.err).Error()
}

// counter returns the value of a counter series in reg, by name and the
// value of its "result" label ("" when it has none).
func counter(t *testing.T, reg *prometheus.Registry, name, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			label := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" {
					label = l.GetValue()
				}
			}
			if label == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// newMetrics returns writer metrics on a fresh registry.
func newMetrics() (*metrics.LogWriter, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	return metrics.NewLogWriter(reg), reg
}

// publishRecords publishes recs on the attempt stream asynchronously, as
// the deliverer does, and waits for every ack.
func publishRecords(t *testing.T, js jetstream.JetStream, sc streams.Config, recs []*envelope.AttemptRecord) {
	t.Helper()
	sc = sc.WithDefaults()
	// In windows of 1,000, each acked before the next: with more in flight
	// a loaded machine can stall the client's async window past its limit
	// ("stalled with too many outstanding async published messages").
	complete := func() {
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(60 * time.Second):
			t.Fatal("attempt records not acked within 60s")
		}
	}
	for i, r := range recs {
		msg, err := sc.AttemptMsg(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishMsgAsync(msg); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 999 {
			complete()
		}
	}
	complete()
}

// proxy forwards loopback TCP connections to target until cut, which
// closes every connection and refuses new ones until restore.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		if !down {
			p.conns[c] = struct{}{}
		}
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		go p.forward(c)
	}
}

func (p *proxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); up.Close(); c.Close() }()
	_, _ = io.Copy(c, up)
	up.Close()
	c.Close()
}

// cut closes every open connection and refuses new ones.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// restore accepts connections again.
func (p *proxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// isNotFound reports whether err is the store's not-found.
func isNotFound(err error) bool { return errors.Is(err, logstore.ErrNotFound) }
