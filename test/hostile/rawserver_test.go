package hostile

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/deliver"
)

// writeSafety bounds every write of a hostile receiver, so that a deliverer
// that stopped reading without closing cannot block a test goroutine for
// ever. It is far above any attempt timeout used here: hitting it means the
// deliverer kept a connection open, which the tests report.
const writeSafety = 15 * time.Second

// behaviour is what a hostile receiver does with one connection.
type behaviour struct {
	// silent: accept the connection and never read or write on it.
	silent bool
	// respond writes the hostile response after the request was read. It
	// returns when it is done, when the peer is gone or when the server closes.
	respond func(c *rawConn)
}

// rawReceiver is a TCP server playing one hostile receiver on loopback. It
// reads each request with net/http's parser (unless silent), hands the
// connection to its behaviour and records, per connection, when the request
// arrived, how many bytes it managed to write and when the deliverer closed
// the connection.
type rawReceiver struct {
	t      *testing.T
	ln     net.Listener
	url    string
	behave behaviour
	quit   chan struct{}
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns []*rawConn
}

// rawConn is one connection to a rawReceiver.
type rawConn struct {
	net.Conn
	srv      *rawReceiver
	accepted time.Time
	written  atomic.Int64

	mu      sync.Mutex
	arrived time.Time // request read (accepted, for a silent receiver)
	eventID string
	attempt string
	goneAt  time.Time // the deliverer closed or reset the connection
	gone    chan struct{}
	once    sync.Once
}

// listenLoopback listens on 127.0.0.2 when it can, so that hostile receivers
// are another destination host than the healthy one on 127.0.0.1 (the
// deliverer limits attempts per host), and on 127.0.0.1 otherwise.
func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	for _, addr := range []string{"127.0.0.2:0", "127.0.0.1:0"} {
		if ln, err := net.Listen("tcp4", addr); err == nil {
			return ln
		}
	}
	t.Fatal("cannot listen on loopback")
	return nil
}

func newRawReceiver(t *testing.T, b behaviour) *rawReceiver {
	t.Helper()
	ln := listenLoopback(t)
	s := &rawReceiver{t: t, ln: ln, url: "http://" + ln.Addr().String() + "/hook", behave: b, quit: make(chan struct{})}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *rawReceiver) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		rc := &rawConn{Conn: c, srv: s, accepted: time.Now(), gone: make(chan struct{})}
		s.mu.Lock()
		select {
		case <-s.quit: // closing: close() has already closed the others
			s.mu.Unlock()
			c.Close()
			return
		default:
		}
		s.conns = append(s.conns, rc)
		s.mu.Unlock()
		if s.behave.silent {
			rc.mu.Lock()
			rc.arrived = rc.accepted
			rc.mu.Unlock()
			continue // held open, never read or written, until close
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			rc.serve()
		}()
	}
}

// serve reads the request, watches for the deliverer closing the
// connection, and lets the behaviour misbehave.
func (c *rawConn) serve() {
	br := bufio.NewReader(c.Conn)
	req, err := http.ReadRequest(br)
	if err != nil {
		c.markGone()
		return
	}
	_, _ = io.Copy(io.Discard, req.Body)
	c.mu.Lock()
	c.arrived = time.Now()
	c.eventID = req.Header.Get(deliver.HeaderEventID)
	c.attempt = req.Header.Get(deliver.HeaderAttempt)
	c.mu.Unlock()
	// The deliverer sends nothing more on this connection (no response
	// ever completes), so a read that returns means it closed or reset it.
	c.srv.wg.Add(1)
	go func() {
		defer c.srv.wg.Done()
		buf := make([]byte, 512)
		for {
			if _, err := br.Read(buf); err != nil {
				c.markGone()
				return
			}
		}
	}()
	c.srv.behave.respond(c)
}

// markGone records the first time the connection was found closed.
func (c *rawConn) markGone() {
	c.once.Do(func() {
		c.mu.Lock()
		c.goneAt = time.Now()
		c.mu.Unlock()
		close(c.gone)
	})
}

// write writes p unless the peer is gone; it reports whether all of p was
// written. A failed write marks the peer gone.
func (c *rawConn) write(p []byte) bool {
	select {
	case <-c.gone:
		return false
	case <-c.srv.quit:
		return false
	default:
	}
	_ = c.SetWriteDeadline(time.Now().Add(writeSafety))
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.srv.t.Errorf("%s: a write blocked for %v: the deliverer stopped reading without closing", c.srv.url, writeSafety)
		}
		c.markGone()
		return false
	}
	return true
}

// trickle writes p one byte every gap, stopping early when the peer is gone.
func (c *rawConn) trickle(p []byte, gap time.Duration) {
	t := time.NewTimer(gap)
	defer t.Stop()
	for i := range p {
		if !c.write(p[i : i+1]) {
			return
		}
		t.Reset(gap)
		select {
		case <-t.C:
		case <-c.gone:
			return
		case <-c.srv.quit:
			return
		}
	}
}

// pour writes chunk again and again until the peer is gone or max bytes
// (0: no limit) are written.
func (c *rawConn) pour(chunk []byte, max int64) {
	for max == 0 || c.written.Load() < max {
		if !c.write(chunk) {
			return
		}
	}
}

// connSnapshot is what a test reads about one connection once it is over.
type connSnapshot struct {
	eventID, attempt        string
	accepted, arrived, gone time.Time
	written                 int64
	conn                    net.Conn
}

// snapshot returns the connections accepted so far.
func (s *rawReceiver) snapshot() []connSnapshot {
	s.mu.Lock()
	conns := append([]*rawConn(nil), s.conns...)
	s.mu.Unlock()
	out := make([]connSnapshot, 0, len(conns))
	for _, c := range conns {
		c.mu.Lock()
		out = append(out, connSnapshot{eventID: c.eventID, attempt: c.attempt, accepted: c.accepted,
			arrived: c.arrived, gone: c.goneAt, written: c.written.Load(), conn: c.Conn})
		c.mu.Unlock()
	}
	return out
}

// close stops accepting, closes every connection and waits for the
// receiver's goroutines. It is idempotent.
func (s *rawReceiver) close() {
	s.mu.Lock()
	select {
	case <-s.quit:
		s.mu.Unlock()
		return
	default:
	}
	close(s.quit)
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

// isTimeout reports whether err is a deadline or timeout error.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
