package deliver

import (
	"strconv"
	"sync"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/retry"
)

// Circuit states.
const (
	circuitClosed   = "closed"
	circuitOpen     = "open"
	circuitHalfOpen = "half_open"
)

// breaker keeps one circuit per destination host; a nil *breaker allows
// everything (the breaker is off). A circuit opens after threshold
// consecutive failures that cost capacity (timeouts, connection and TLS
// errors): while it is open, attempts to the host fail at once without
// sending, so a dead or hanging host cannot hold workers or connections.
// A host that answers, even with 5xx, costs little and never trips it;
// with the default threshold above the six attempts of one event, a lone
// failing event never trips its own host's circuit. After the open period one probe attempt is let through
// (half-open): success closes the circuit, failure opens it again for
// twice as long, up to maxOpen.
type breaker struct {
	threshold int
	openFor   time.Duration
	maxOpen   time.Duration
	now       func() time.Time
	onChange  func(host, from, to string, failures, open int)

	mu       sync.Mutex
	hosts    map[string]*circuit
	notClose int // circuits open or half-open
}

type circuit struct {
	state    string
	failures int           // consecutive
	until    time.Time     // end of the open period
	openFor  time.Duration // current open period
	probing  bool          // a half-open probe is in flight
}

func newBreaker(threshold int, openFor, maxOpen time.Duration, now func() time.Time, onChange func(host, from, to string, failures, open int)) *breaker {
	return &breaker{threshold: threshold, openFor: openFor, maxOpen: maxOpen, now: now, onChange: onChange, hosts: make(map[string]*circuit)}
}

// allow says whether an attempt to host may be sent. When it may not, the
// returned reason says why (for the outcome). An allowed attempt must end
// in record (it was sent) or abandon (it was not), so that a half-open
// probe is never lost.
func (b *breaker) allow(host string) (ok bool, reason string) {
	if b == nil {
		return true, ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.hosts[host]
	if c == nil || c.state == circuitClosed {
		return true, ""
	}
	now := b.now()
	if c.state == circuitOpen && !now.Before(c.until) {
		b.transition(host, c, circuitHalfOpen)
	}
	if c.state == circuitHalfOpen && !c.probing {
		c.probing = true
		return true, ""
	}
	wait := c.until.Sub(now).Round(time.Millisecond)
	if wait < 0 {
		wait = 0
	}
	return false, "circuit open for host " + host + " after " + strconv.Itoa(c.failures) +
		" consecutive failures; nothing sent (next probe in " + wait.String() + ")"
}

// record notes the result of an attempt that was sent to host.
func (b *breaker) record(host string, o retry.Outcome) {
	if b == nil {
		return
	}
	failed := isHostFailure(o)
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.hosts[host]
	if !failed {
		if c != nil {
			if c.state != circuitClosed {
				b.transition(host, c, circuitClosed)
			}
			delete(b.hosts, host) // healthy hosts keep no state
		}
		return
	}
	if c == nil {
		c = &circuit{state: circuitClosed}
		b.hosts[host] = c
	}
	c.failures++
	switch c.state {
	case circuitHalfOpen:
		c.probing = false
		c.openFor = min(2*c.openFor, b.maxOpen)
		c.until = b.now().Add(c.openFor)
		b.transition(host, c, circuitOpen)
	case circuitClosed:
		if c.failures >= b.threshold {
			c.openFor = b.openFor
			c.until = b.now().Add(c.openFor)
			b.transition(host, c, circuitOpen)
		}
	}
}

// abandon releases a half-open probe that was let through but not sent
// (shutdown, or nothing to send), so that the next attempt can probe.
func (b *breaker) abandon(host string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.hosts[host]; c != nil {
		c.probing = false
	}
}

// transition changes a circuit's state and reports it. Called with b.mu held.
func (b *breaker) transition(host string, c *circuit, to string) {
	from := c.state
	if from == to {
		return
	}
	c.state = to
	switch {
	case from == circuitClosed:
		b.notClose++
	case to == circuitClosed:
		b.notClose--
	}
	if b.onChange != nil {
		b.onChange(host, from, to, c.failures, b.notClose)
	}
}

// isHostFailure says whether an outcome shows a host that cannot answer:
// a timeout, a connection or a TLS error. Any HTTP answer, even a 5xx,
// comes from a live host and counts as success for the circuit (the
// attempt itself still fails and is retried).
func isHostFailure(o retry.Outcome) bool {
	switch o.Kind {
	case retry.KindTimeout, retry.KindConnection, retry.KindTLS:
		return true
	default:
		return false
	}
}
