package console

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
)

// sessionIDBytes is the length of a session id before base64url.
const sessionIDBytes = 32

// session is one signed-in browser. The token is kept (in memory only) so
// that every request can authenticate it again.
type session struct {
	// key is the digest of the cookie's id: the map key.
	key       [sha256.Size]byte
	token     string
	principal apitoken.Principal
	created   time.Time
	lastSeen  time.Time
}

// sessions is the in-memory session store. It is safe for concurrent use.
type sessions struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[[sha256.Size]byte]*session
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, m: map[[sha256.Size]byte]*session{}}
}

// create starts a session for token and p and returns its cookie value (a
// fresh random id: sign-in always rotates it). Expired sessions are swept.
func (s *sessions) create(token string, p apitoken.Principal) (string, error) {
	raw := make([]byte, sessionIDBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("console: session id: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	sess := &session{key: sha256.Sum256([]byte(id)), token: token, principal: p, created: now, lastSeen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, old := range s.m {
		if old.expired(now) {
			delete(s.m, k)
		}
	}
	s.m[sess.key] = sess
	return id, nil
}

// get returns the live session of the cookie value id and marks it seen;
// ok is false for an unknown or expired one (which is removed).
func (s *sessions) get(id string) (session, bool) {
	if id == "" || len(id) > 2*sessionIDBytes {
		return session{}, false
	}
	key := sha256.Sum256([]byte(id))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[key]
	if !ok {
		return session{}, false
	}
	if sess.expired(now) {
		delete(s.m, key)
		return session{}, false
	}
	sess.lastSeen = now
	return *sess, true
}

// update stores the principal the session's token authenticated as now.
func (s *sessions) update(key [sha256.Size]byte, p apitoken.Principal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, ok := s.m[key]; ok {
		sess.principal = p
	}
}

// remove ends a session.
func (s *sessions) remove(key [sha256.Size]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}

// expired reports whether the session has been idle for IdleTimeout or
// alive for AbsoluteTimeout.
func (s *session) expired(now time.Time) bool {
	return now.Sub(s.lastSeen) >= IdleTimeout || now.Sub(s.created) >= AbsoluteTimeout
}

// maxLimitedAddrs bounds the addresses the sign-in limiter remembers; past
// it, addresses whose allowance is whole again are forgotten.
const maxLimitedAddrs = 4096

// signInLimiter counts bad sign-ins per client address: a token bucket of
// BadSignInBurst, refilled at BadSignInBurst per BadSignInWindow. It is
// safe for concurrent use.
type signInLimiter struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*rate.Limiter
}

func newSignInLimiter(now func() time.Time) *signInLimiter {
	return &signInLimiter{now: now, m: map[string]*rate.Limiter{}}
}

// wait returns how long addr must wait before its next sign-in is
// looked at; 0 when it may sign in now.
func (l *signInLimiter) wait(addr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[addr]
	if !ok {
		return 0
	}
	tokens := lim.TokensAt(l.now())
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(lim.Limit()) * float64(time.Second))
}

// bad records a bad sign-in from addr.
func (l *signInLimiter) bad(addr string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[addr]
	if !ok {
		if len(l.m) >= maxLimitedAddrs {
			l.sweep(now)
		}
		lim = rate.NewLimiter(rate.Limit(float64(BadSignInBurst)/BadSignInWindow.Seconds()), BadSignInBurst)
		l.m[addr] = lim
	}
	lim.AllowN(now, 1)
}

// sweep forgets addresses whose allowance is whole again.
func (l *signInLimiter) sweep(now time.Time) {
	for addr, lim := range l.m {
		if lim.TokensAt(now) >= BadSignInBurst {
			delete(l.m, addr)
		}
	}
}

// waitSeconds rounds d up to whole seconds, at least 1.
func waitSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
