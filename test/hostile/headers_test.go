package hostile

import (
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// netHTTPDefaultHeaderLimit is what net/http's Transport accepts as response
// headers when MaxResponseHeaderBytes is zero: 10 MiB.
const netHTTPDefaultHeaderLimit = 10 << 20

// TestEndlessResponseHeadersAreCapped sends an event to a receiver that
// answers with a status line and then header lines without end. The
// attempt must fail (and be retried) long before the deliverer has buffered
// net/http's default of 10 MiB of headers: with 512 attempts in flight that
// default lets hostile receivers pin 5 GiB of the deliverer's memory.
//
// The receiver's send buffer is kept small, so what it manages to write is
// about what the deliverer read plus the deliverer's receive buffer (a few
// MiB at most): below 10 MiB only when the transport caps response headers.
func TestEndlessResponseHeadersAreCapped(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	p := newPipeline(t, hostileSchedule)
	b := endlessHeaders()
	respond := b.respond
	b.respond = func(c *rawConn) {
		if tc, ok := c.Conn.(*net.TCPConn); ok {
			_ = tc.SetWriteBuffer(64 << 10)
		}
		respond(c)
	}
	rr := newRawReceiver(t, b)
	ctx := jstest.Context(t, 30*time.Second)
	r, err := p.pub.PublishWorkflow(ctx, "org_hostile", rr.url, workflowRun("run_headers"), envelope.Block{TimeoutSeconds: timeoutSeconds})
	if err != nil {
		t.Fatal(err)
	}
	o := p.finalOutcome("org_hostile", envelope.SourceWorkflow, r.EventID, 20*time.Second)
	if o.State != envelope.StateUndelivered || o.Attempts != 3 || !strings.Contains(o.Error, "connection error") {
		t.Errorf("outcome state %s, attempts %d, error %q; want undelivered after 3 attempts with a connection error", o.State, o.Attempts, o.Error)
	}
	for _, c := range rr.snapshot() {
		if c.written >= netHTTPDefaultHeaderLimit {
			t.Errorf("attempt %s: the receiver wrote %d bytes of headers before the deliverer gave up, want < %d (net/http's default cap)",
				c.attempt, c.written, netHTTPDefaultHeaderLimit)
		}
		if took := c.gone.Sub(c.arrived); c.gone.IsZero() || took > attemptLimit {
			t.Errorf("attempt %s: connection closed after %v (closed: %t), want <= %v", c.attempt, took, !c.gone.IsZero(), attemptLimit)
		}
	}
	p.shutdown()
	rr.close()
	goleak.VerifyNone(t, ignore)
}
