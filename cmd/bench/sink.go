package main

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/deliver"
	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

// stampMarker precedes the publish time (Unix nanoseconds) that the
// latency phases put in a job's task_id or a workflow's run_id; the sink
// finds it in the body it receives.
const stampMarker = "pubns"

// verifyEvery is how often the sink verifies a signature (1 request in
// verifyEvery): enough to prove the deliveries are signed with the
// organization's secret, cheap enough not to slow the sink.
const verifyEvery = 512

// sample is one stamped delivery: when it was published and received.
type sample struct{ pub, recv int64 }

// sink is the receiving end of every phase: an HTTP server on loopback
// that answers 204 to every POST, counts deliveries and distinct event ids
// (Sixtyfour-Event-Id), samples signatures, and records the latency of
// stamped events.
type sink struct {
	url    string
	secret string
	srv    *http.Server
	ln     net.Listener

	total  atomic.Int64
	unique atomic.Int64
	badSig atomic.Int64

	bufs sync.Pool // *bytes.Buffer for request bodies

	mu      sync.Mutex
	seen    map[string]struct{}
	samples []sample
}

func newSink(secret string) (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{url: "http://" + ln.Addr().String() + "/hook", secret: secret, ln: ln, seen: map[string]struct{}{}}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// ServeHTTP receives one delivery.
func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	buf, _ := s.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer s.bufs.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(r.Body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	recv := time.Now().UnixNano()
	body := buf.Bytes()
	n := s.total.Add(1)
	if n%verifyEvery == 1 {
		if sign.Verify(r.Header.Get(sign.HeaderName), body, []string{s.secret}, time.Now(), sign.DefaultTolerance) != nil {
			s.badSig.Add(1)
		}
	}
	pub, stamped := parseStamp(body)
	id := r.Header.Get(deliver.HeaderEventID)
	s.mu.Lock()
	_, dup := s.seen[id]
	if !dup {
		s.seen[id] = struct{}{}
		if stamped {
			s.samples = append(s.samples, sample{pub: pub, recv: recv})
		}
	}
	s.mu.Unlock()
	if !dup {
		s.unique.Add(1)
	}
	w.WriteHeader(http.StatusNoContent)
}

// parseStamp finds the publish time after stampMarker in body.
func parseStamp(body []byte) (int64, bool) {
	i := bytes.Index(body, []byte(stampMarker))
	if i < 0 {
		return 0, false
	}
	digits := body[i+len(stampMarker):]
	end := 0
	for end < len(digits) && end < 19 && digits[end] >= '0' && digits[end] <= '9' {
		end++
	}
	v, err := strconv.ParseInt(string(digits[:end]), 10, 64)
	return v, err == nil
}

// received returns the distinct events received so far.
func (s *sink) received() int64 { return s.unique.Load() }

// duplicates returns how many deliveries repeated an event already received.
func (s *sink) duplicates() int64 { return s.total.Load() - s.unique.Load() }

// snapshot returns a copy of the latency samples.
func (s *sink) snapshot() []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sample(nil), s.samples...)
}

func (s *sink) close() { _ = s.srv.Close() }

// blackhole is a destination that accepts connections and never answers:
// it reads nothing and writes nothing until it is closed.
type blackhole struct {
	url      string
	ln       net.Listener
	accepted atomic.Int64

	mu    sync.Mutex
	conns []net.Conn
	done  chan struct{}
}

// newBlackhole listens on 127.0.0.2, a host distinct from the sink's
// 127.0.0.1, so the deliverer's per-host limits tell the two apart.
func newBlackhole() (*blackhole, error) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		return nil, err
	}
	b := &blackhole{url: "http://" + ln.Addr().String() + "/hook", ln: ln, done: make(chan struct{})}
	go b.accept()
	return b, nil
}

func (b *blackhole) accept() {
	defer close(b.done)
	for {
		c, err := b.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		b.accepted.Add(1)
		b.mu.Lock()
		b.conns = append(b.conns, c)
		b.mu.Unlock()
	}
}

// close stops accepting and drops every held connection.
func (b *blackhole) close() {
	_ = b.ln.Close()
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		_ = c.Close()
	}
	b.conns = nil
}
