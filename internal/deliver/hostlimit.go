package deliver

import (
	"context"
	"sync"
)

// hostLimiter bounds the attempts in flight to each destination host. A
// host's entry exists only while someone holds or waits for it, so the map
// does not grow with the number of hosts ever seen.
type hostLimiter struct {
	limit int
	mu    sync.Mutex
	hosts map[string]*hostSlots
}

type hostSlots struct {
	sem  chan struct{}
	refs int
}

func newHostLimiter(limit int) *hostLimiter {
	return &hostLimiter{limit: limit, hosts: make(map[string]*hostSlots)}
}

// tryAcquire takes a slot for host if one is free at once.
func (l *hostLimiter) tryAcquire(host string) (release func(), ok bool) {
	h := l.ref(host)
	select {
	case h.sem <- struct{}{}:
		return func() { <-h.sem; l.unref(host, h) }, true
	default:
		l.unref(host, h)
		return nil, false
	}
}

// acquire waits for a slot for host; it returns a release func, or an error
// when ctx ends first.
func (l *hostLimiter) acquire(ctx context.Context, host string) (func(), error) {
	h := l.ref(host)
	select {
	case h.sem <- struct{}{}:
		return func() { <-h.sem; l.unref(host, h) }, nil
	case <-ctx.Done():
		l.unref(host, h)
		return nil, ctx.Err()
	}
}

func (l *hostLimiter) ref(host string) *hostSlots {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.hosts[host]
	if h == nil {
		h = &hostSlots{sem: make(chan struct{}, l.limit)}
		l.hosts[host] = h
	}
	h.refs++
	return h
}

func (l *hostLimiter) unref(host string, h *hostSlots) {
	l.mu.Lock()
	h.refs--
	if h.refs == 0 {
		delete(l.hosts, host)
	}
	l.mu.Unlock()
}
