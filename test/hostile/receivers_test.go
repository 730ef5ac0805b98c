package hostile

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
)

// Settings shared by the hostile-receiver tests.
const (
	// timeoutSeconds is the workflow block's per-attempt timeout.
	timeoutSeconds = 1
	// attemptLimit is how long any attempt may take: its timeout plus a
	// second for the deliverer to notice and close the connection.
	attemptLimit = timeoutSeconds*time.Second + time.Second
	// eventsPerReceiver is how many events go to each hostile receiver.
	eventsPerReceiver = 2
	// maxStreamed bounds what a receiver streaming a body (or headers) may
	// manage to write before the deliverer gives up: the deliverer reads at
	// most 2 KiB + 64 KiB of a body, the rest is kernel socket buffers.
	// Reading a 50 MiB or endless body to its end would blow through it.
	maxStreamed = 16 << 20
)

// hostileSchedule gives three attempts with short gaps, so that an event
// against a receiver that always fails ends within a few seconds.
var hostileSchedule = retry.Schedule{20 * time.Millisecond, 40 * time.Millisecond}

// hostileCase is one hostile receiver and how its events must end.
type hostileCase struct {
	name     string
	behave   behaviour
	state    string // final state of each event
	attempts int    // attempts each event gets
	status   int    // outcome status code
	reason   string // substring of the outcome error (undelivered only)
	streams  bool   // the receiver streams more than the deliverer may read
}

var hostileCases = []hostileCase{
	{name: "accepts and never answers", behave: silent(), state: envelope.StateUndelivered, attempts: 3, reason: "timeout"},
	{name: "trickles headers", behave: slowHeaders(), state: envelope.StateUndelivered, attempts: 3, reason: "timeout"},
	// A 2xx is a delivery once the status line is in, however slow the body.
	{name: "trickles a 200 body", behave: slowBody(200), state: envelope.StateDelivered, attempts: 1, status: 200},
	{name: "trickles a 503 body", behave: slowBody(503), state: envelope.StateUndelivered, attempts: 3, status: 503, reason: "HTTP 503"},
	{name: "endless 200 body", behave: endlessBody(200), state: envelope.StateDelivered, attempts: 1, status: 200, streams: true},
	{name: "endless 500 body", behave: endlessBody(500), state: envelope.StateUndelivered, attempts: 3, status: 500, reason: "HTTP 500", streams: true},
	{name: "gigantic 200 body", behave: giganticBody(200), state: envelope.StateDelivered, attempts: 1, status: 200, streams: true},
	{name: "gigantic 502 body", behave: giganticBody(502), state: envelope.StateUndelivered, attempts: 3, status: 502, reason: "HTTP 502", streams: true},
	{name: "resets mid-response", behave: resetMidResponse(), state: envelope.StateUndelivered, attempts: 3, reason: "connection error"},
}

// TestHostileReceivers sends events to every hostile receiver at once while
// a healthy receiver gets a steady stream of events, then checks each
// hostile event's end, the time each attempt took, how much of each
// response was read, that the healthy events were all delivered promptly
// throughout, and that nothing leaked.
func TestHostileReceivers(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	p := newPipeline(t, hostileSchedule)
	good := newHealthy(t)
	receivers := make([]*rawReceiver, len(hostileCases))
	for i, tc := range hostileCases {
		receivers[i] = newRawReceiver(t, tc.behave)
	}
	ctx := jstest.Context(t, 45*time.Second)

	traffic := startHealthyTraffic(t, p, good.URL, 50*time.Millisecond)
	events := make([][]string, len(hostileCases))
	for i, tc := range hostileCases {
		for n := range eventsPerReceiver {
			r, err := p.pub.PublishWorkflow(ctx, "org_hostile", receivers[i].url, workflowRun("run_"+strconv.Itoa(i)+"_"+strconv.Itoa(n)),
				envelope.Block{TimeoutSeconds: timeoutSeconds, Headers: map[string]string{"X-Case": strings.ReplaceAll(tc.name, " ", "-")}})
			if err != nil {
				t.Fatalf("%s: publish: %v", tc.name, err)
			}
			events[i] = append(events[i], r.EventID)
		}
	}
	outcomes := make(map[string]*envelope.Outcome)
	for i := range hostileCases {
		for _, id := range events[i] {
			outcomes[id] = p.finalOutcome("org_hostile", envelope.SourceWorkflow, id, 20*time.Second)
		}
	}
	published := traffic.stop()
	checkHealthyTraffic(t, good, published)

	for i, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) {
			checkHostileCase(t, p, tc, receivers[i], events[i], outcomes)
		})
	}
	jstest.Eventually(t, 5*time.Second, func() bool { return p.pending(ctx) == 0 }, "WEBHOOKS drained")

	p.shutdown()
	good.Close()
	for _, r := range receivers {
		r.close()
	}
	goleak.VerifyNone(t, ignore)
}

// checkHostileCase checks the events sent to one hostile receiver.
func checkHostileCase(t *testing.T, p *pipeline, tc hostileCase, rr *rawReceiver, ids []string, outcomes map[string]*envelope.Outcome) {
	t.Helper()
	var longest time.Duration
	for _, id := range ids {
		o := outcomes[id]
		if o.State != tc.state || o.Attempts != tc.attempts || o.StatusCode != tc.status || !strings.Contains(o.Error, tc.reason) {
			t.Errorf("event %s: outcome state %s, attempts %d, status %d, error %q; want %s, %d, %d, error containing %q",
				id, o.State, o.Attempts, o.StatusCode, o.Error, tc.state, tc.attempts, tc.status, tc.reason)
		}
		checkExcerpt(t, o, tc.streams)
		lines := p.attempts.of(id)
		if len(lines) != tc.attempts {
			t.Errorf("event %s: %d attempt log lines, want %d", id, len(lines), tc.attempts)
		}
		for _, l := range lines {
			d := time.Duration(l.DurationMS) * time.Millisecond
			longest = max(longest, d)
			if d > attemptLimit {
				t.Errorf("event %s attempt %d took %v (deliverer's own measure), want <= %v", id, l.Attempt, d, attemptLimit)
			}
		}
	}
	t.Logf("longest attempt by the deliverer's own measure: %v", longest)
	conns := rr.snapshot()
	if want := tc.attempts * len(ids); len(conns) != want {
		t.Errorf("receiver got %d connections, want one per attempt: %d", len(conns), want)
	}
	if tc.behave.silent {
		checkClosedByDeliverer(t, conns)
		return
	}
	var maxTook time.Duration
	var maxWritten int64
	for _, c := range conns {
		if c.gone.IsZero() {
			t.Errorf("event %s attempt %s: connection still open after the event ended", c.eventID, c.attempt)
			continue
		}
		took := c.gone.Sub(c.arrived)
		maxTook, maxWritten = max(maxTook, took), max(maxWritten, c.written)
		if took > attemptLimit {
			t.Errorf("event %s attempt %s: %v from the request's arrival to the connection's close, want <= %v", c.eventID, c.attempt, took, attemptLimit)
		}
		if tc.streams && c.written > maxStreamed {
			t.Errorf("event %s attempt %s: the receiver wrote %d bytes before the deliverer gave up, want <= %d", c.eventID, c.attempt, c.written, maxStreamed)
		}
	}
	t.Logf("%d connections; longest from arrival to close %v; most bytes written by the receiver %d", len(conns), maxTook.Round(time.Millisecond), maxWritten)
}

// checkExcerpt checks the response excerpt kept in the outcome and in the
// workflow block's column: at most 2,048 bytes of valid UTF-8, and exactly
// that much when the receiver streamed a large body.
func checkExcerpt(t *testing.T, o *envelope.Outcome, streamed bool) {
	t.Helper()
	if n := len(o.ResponseExcerpt); n > envelope.MaxResponseExcerpt || !utf8.ValidString(o.ResponseExcerpt) {
		t.Errorf("event %s: response excerpt of %d bytes (valid UTF-8: %t), want at most %d of valid UTF-8",
			o.EventID, n, utf8.ValidString(o.ResponseExcerpt), envelope.MaxResponseExcerpt)
	}
	if streamed && len(o.ResponseExcerpt) != envelope.MaxResponseExcerpt {
		t.Errorf("event %s: response excerpt of %d bytes from a large body, want exactly %d", o.EventID, len(o.ResponseExcerpt), envelope.MaxResponseExcerpt)
	}
	if o.WebhookResponse == nil || *o.WebhookResponse != o.ResponseExcerpt {
		t.Errorf("event %s: webhook_response column %v, want the response excerpt", o.EventID, o.WebhookResponse)
	}
}

// checkClosedByDeliverer checks that the deliverer closed connections the
// receiver never read from: reading them now drains the request and must
// end with EOF or a reset at once, not wait for more data.
func checkClosedByDeliverer(t *testing.T, conns []connSnapshot) {
	t.Helper()
	buf := make([]byte, 4096)
	for _, c := range conns {
		_ = c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		var err error
		for err == nil {
			_, err = c.conn.Read(buf)
		}
		if isTimeout(err) {
			t.Errorf("connection accepted at %s still open: the deliverer never closed it", c.accepted.Format(time.StampMilli))
		}
	}
}

// healthyTraffic publishes a job to a healthy receiver at a steady pace
// until stopped, recording when each was published.
type healthyTraffic struct {
	quit chan struct{}
	done chan struct{}
	mu   sync.Mutex
	at   map[string]time.Time
}

func startHealthyTraffic(t *testing.T, p *pipeline, url string, every time.Duration) *healthyTraffic {
	h := &healthyTraffic{quit: make(chan struct{}), done: make(chan struct{}), at: make(map[string]time.Time)}
	ctx := jstest.Context(t, 60*time.Second)
	go func() {
		defer close(h.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for n := 0; ; n++ {
			start := time.Now()
			r, err := p.pub.PublishJob(ctx, "org_healthy", url, jobResult("healthy_"+strconv.Itoa(n)))
			if err != nil {
				t.Errorf("healthy publish %d: %v", n, err)
				return
			}
			h.mu.Lock()
			h.at[r.EventID] = start
			h.mu.Unlock()
			select {
			case <-tick.C:
			case <-h.quit:
				return
			}
		}
	}()
	return h
}

// stop ends the traffic and returns each event's publish time.
func (h *healthyTraffic) stop() map[string]time.Time {
	close(h.quit)
	<-h.done
	return h.at
}

// checkHealthyTraffic checks that every healthy event arrived exactly once
// and promptly, although hostile receivers were holding attempts open.
func checkHealthyTraffic(t *testing.T, good *healthy, published map[string]time.Time) {
	t.Helper()
	jstest.Eventually(t, 10*time.Second, func() bool {
		count, _ := good.arrivals()
		return len(count) >= len(published)
	}, "%d events to the healthy receiver delivered", len(published))
	count, first := good.arrivals()
	var worst time.Duration
	for id, at := range published {
		if count[id] != 1 {
			t.Errorf("healthy event %s arrived %d times, want 1", id, count[id])
			continue
		}
		worst = max(worst, first[id].Sub(at))
	}
	if limit := 2 * time.Second; worst > limit {
		t.Errorf("a healthy event took %v from publish to arrival, want <= %v while hostile receivers are busy", worst, limit)
	}
	t.Logf("%d events to the healthy receiver delivered once each; slowest publish-to-arrival %v", len(published), worst.Round(time.Millisecond))
}
