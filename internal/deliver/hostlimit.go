package deliver

import (
	"context"
	"sync"
)

// hostLimiter bounds the attempts in flight to each destination host, and
// hands a busy host's freed slots to the organizations waiting for it in
// turn: one organization's burst to a shared host (a hosted receiver many
// customers use) queues behind itself, not in front of the others. When a
// single organization waits, it gets every slot (work-conserving). A
// host's entry exists only while someone holds or waits for it, so the map
// does not grow with the number of hosts ever seen. The same type caps an
// organization's attempts (keyed by organization, each key waited for by
// that organization only).
type hostLimiter struct {
	limit int
	mu    sync.Mutex
	hosts map[string]*hostSlots
}

// hostSlots is one host's slots and its waiters, guarded by the limiter's
// mutex.
type hostSlots struct {
	held    int                        // slots in use
	waiting map[string][]chan struct{} // per organization, in arrival order; made when first needed
	turns   []string                   // organizations with waiters, next to serve first
	release func()                     // gives one held slot back; made once per entry
}

// tickets are the one-slot channels through which a waiter is handed a
// slot, reused: every message that waits for a busy host takes one.
var tickets = sync.Pool{New: func() any { return make(chan struct{}, 1) }}

func newHostLimiter(limit int) *hostLimiter {
	return &hostLimiter{limit: limit, hosts: make(map[string]*hostSlots)}
}

// entry returns host's entry, made if needed; l.mu is held.
func (l *hostLimiter) entry(host string) *hostSlots {
	h := l.hosts[host]
	if h == nil {
		h = &hostSlots{}
		h.release = func() {
			l.mu.Lock()
			l.handOn(host, h)
			l.mu.Unlock()
		}
		l.hosts[host] = h
	}
	return h
}

// tryAcquire takes a slot for host if one is free at once and nobody
// waits for one (a free slot with waiters is theirs).
func (l *hostLimiter) tryAcquire(host string) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.entry(host)
	if h.held >= l.limit || len(h.turns) > 0 {
		l.forget(host, h)
		return nil, false
	}
	h.held++
	return h.release, true
}

// acquire waits for a slot for host on behalf of orgID; it returns a
// release func, or an error when ctx ends first.
func (l *hostLimiter) acquire(ctx context.Context, host, orgID string) (func(), error) {
	l.mu.Lock()
	h := l.entry(host)
	if h.held < l.limit && len(h.turns) == 0 {
		h.held++
		l.mu.Unlock()
		return h.release, nil
	}
	ticket := tickets.Get().(chan struct{})
	if h.waiting == nil {
		h.waiting = map[string][]chan struct{}{}
	}
	if len(h.waiting[orgID]) == 0 {
		h.turns = append(h.turns, orgID)
	}
	h.waiting[orgID] = append(h.waiting[orgID], ticket)
	l.mu.Unlock()

	select {
	case <-ticket:
		tickets.Put(ticket) // empty again, and out of every queue
		return h.release, nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	defer tickets.Put(ticket) // under l.mu: out of the queue, and drained below
	select {
	case <-ticket: // granted meanwhile: pass the slot on
		l.handOn(host, h)
		return nil, ctx.Err()
	default:
	}
	q := h.waiting[orgID]
	for i, t := range q {
		if t == ticket {
			q = append(q[:i], q[i+1:]...)
			break
		}
	}
	if len(q) == 0 {
		delete(h.waiting, orgID)
		for i, o := range h.turns {
			if o == orgID {
				h.turns = append(h.turns[:i], h.turns[i+1:]...)
				break
			}
		}
	} else {
		h.waiting[orgID] = q
	}
	l.forget(host, h)
	return nil, ctx.Err()
}

// handOn passes a freed slot to the first waiter of the organization whose
// turn it is, which then goes to the back of the turns if it waits for
// more; with no waiter the slot is freed. l.mu is held.
func (l *hostLimiter) handOn(host string, h *hostSlots) {
	if len(h.turns) == 0 {
		h.held--
		l.forget(host, h)
		return
	}
	org := h.turns[0]
	h.turns = h.turns[1:]
	q := h.waiting[org]
	q[0] <- struct{}{}
	if q = q[1:]; len(q) == 0 {
		delete(h.waiting, org)
	} else {
		h.waiting[org] = q
		h.turns = append(h.turns, org)
	}
}

// forget drops host's entry when no slot is held and nobody waits. l.mu is
// held.
func (l *hostLimiter) forget(host string, h *hostSlots) {
	if h.held == 0 && len(h.turns) == 0 && l.hosts[host] == h {
		delete(l.hosts, host)
	}
}
