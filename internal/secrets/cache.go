package secrets

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

// Cache is the deliverer's in-memory view of every organization's signing
// secrets, kept current by a KV watch. Records are decoded and decrypted
// when they change, never per lookup, so Signing is a map read on an
// immutable snapshot behind an atomic pointer: lock-free, safe for
// concurrent use, and free of allocations.
//
// A KV change is in effect within milliseconds (watch updates are pushed).
// A record that cannot be decoded or decrypted makes that organization, and
// only that one, fail closed until the record is fixed.
//
// When the KV becomes unreachable, or the watch ends or stalls, the Cache
// keeps serving the last state it knew, re-establishes the watch with
// backoff (100 ms doubling to 5 s) and then reloads every record. Serving the
// last known state is deliberate: a secret known to exist is still used (the
// organization is never downgraded to unsigned), an organization whose
// record failed stays fail-closed, and an outage of the KV, which is the same
// NATS system the deliveries come from, does not stop deliveries that are
// already in flight. The cost is that a change made during the outage (a
// new, rolled or deleted secret) takes effect only when the watch is back;
// Ready and DownSince report that window. After Stop (or once the context
// given to NewCache is done) the Cache can no longer be trusted and Signing
// fails closed for every organization.
type Cache struct {
	kv      jetstream.KeyValue
	keyring *Keyring
	now     func() time.Time

	snap      atomic.Pointer[snapshot]
	state     atomic.Int32 // stateLive, stateDown or stateStopped
	downSince atomic.Int64 // Unix nanoseconds from now(); 0 while live

	// seen is the highest KV revision applied. Only the watch goroutine
	// (and NewCache before starting it) touches it.
	seen uint64

	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

const (
	stateLive int32 = iota
	stateDown
	stateStopped
)

// snapshot is an immutable map from org id to its signing state. It is
// replaced as a whole, never modified once published.
type snapshot struct {
	orgs map[string]orgSecrets
}

// orgSecrets is one organization's signing state: either err (fail closed)
// or its decrypted secrets.
type orgSecrets struct {
	// all holds the plaintexts, newest first: the active secret, then the
	// expiring one if any. Shared with callers: read-only.
	all []string
	// expiresAt is when all[1] stops signing; unused when len(all) == 1.
	expiresAt time.Time
	// err wraps ErrSecretUnavailable when the record cannot be used.
	err error
}

// errCacheStopped is what Signing returns once the Cache is stopped.
var errCacheStopped = fmt.Errorf("secrets: cache stopped, secrets cannot be trusted: %w", ErrSecretUnavailable)

// NewCache watches every key of kv (the signing-secrets bucket), loads the
// current records (it returns once the watch has delivered all initial
// values, or fails after loadTimeout, 10 s), then applies updates in a
// goroutine until ctx is done or Stop is called. keyring decrypts the
// records; now (default time.Now) timestamps DownSince.
//
// ctx bounds the Cache's whole lifetime, not only its start-up: use a
// context that lives as long as the deliverer. Errors wrap ErrNoMasterKey
// (nil keyring), ctx's error, or the KV error of the initial load.
func NewCache(ctx context.Context, kv jetstream.KeyValue, keyring *Keyring, now func() time.Time) (*Cache, error) {
	if kv == nil {
		return nil, errors.New("secrets: NewCache: kv is nil")
	}
	if keyring == nil {
		return nil, fmt.Errorf("secrets: NewCache: %w", ErrNoMasterKey)
	}
	if now == nil {
		now = time.Now
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &Cache{kv: kv, keyring: keyring, now: now, cancel: cancel, done: make(chan struct{})}
	w, orgs, err := c.load(ctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("secrets: NewCache: initial load: %w", err)
	}
	c.snap.Store(&snapshot{orgs: orgs})
	go c.run(ctx, w)
	return c, nil
}

// Signing returns the secrets that sign a delivery for orgID at time
// now, newest first: [active], or [active, expiring] while the previous
// secret's overlap lasts (an expiring secret stops at its expires_at: now
// >= expires_at drops it, with no write needed). Pass the returned slice to
// sign.Header as is. It is shared with other callers and must not be
// modified.
//
// It returns nil, nil when the organization has no secret (no record, a
// deleted key, or every secret revoked): the delivery goes out unsigned.
// It returns an error wrapping ErrSecretUnavailable when the organization
// has a secret that cannot be used now (corrupt record, unknown master key
// id, failed decryption) or the Cache is stopped: the caller must send
// nothing and retry later. The error names the organization and the cause,
// never secret material.
//
// Signing is safe for concurrent use and does not allocate.
func (c *Cache) Signing(orgID string, now time.Time) ([]string, error) {
	if c.state.Load() == stateStopped {
		return nil, errCacheStopped
	}
	s, ok := c.snap.Load().orgs[orgID]
	switch {
	case !ok:
		return nil, nil
	case s.err != nil:
		return nil, s.err
	case len(s.all) > 1 && !now.Before(s.expiresAt):
		return s.all[:1:1], nil
	}
	return s.all, nil
}

// Ready reports whether the Cache is following the KV live: the watch is up
// and the last probe of the bucket (every second) succeeded. While it is
// false the Cache still serves its last known state (see Cache); once
// stopped it is false for good.
func (c *Cache) Ready() bool { return c.state.Load() == stateLive }

// DownSince returns when the Cache stopped following the KV live, by the
// clock given to NewCache, or the zero time while it is live.
func (c *Cache) DownSince() time.Time {
	if ns := c.downSince.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Stop ends the watch and waits for its goroutine to exit. Afterwards
// Signing fails closed with ErrSecretUnavailable. Stop is idempotent and safe
// to call concurrently.
func (c *Cache) Stop() {
	c.stopOnce.Do(func() {
		c.markStopped()
		c.cancel()
		<-c.done
	})
}

func (c *Cache) markLive() {
	if c.state.CompareAndSwap(stateDown, stateLive) {
		c.downSince.Store(0)
	}
}

func (c *Cache) markDown() {
	if c.state.CompareAndSwap(stateLive, stateDown) {
		c.downSince.Store(c.now().UnixNano())
	}
}

func (c *Cache) markStopped() {
	if c.state.Swap(stateStopped) == stateLive {
		c.downSince.Store(c.now().UnixNano())
	}
}

// apply publishes a new snapshot with the batch of KV updates applied.
func (c *Cache) apply(batch []jetstream.KeyValueEntry) {
	old := c.snap.Load().orgs
	next := make(map[string]orgSecrets, len(old)+len(batch))
	maps.Copy(next, old)
	for _, e := range batch {
		c.applyEntry(next, e)
	}
	c.snap.Store(&snapshot{orgs: next})
}

// applyEntry applies one KV update (a put, delete or purge) to orgs.
func (c *Cache) applyEntry(orgs map[string]orgSecrets, e jetstream.KeyValueEntry) {
	if e == nil {
		return
	}
	c.seen = max(c.seen, e.Revision())
	if op := e.Operation(); op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge {
		delete(orgs, e.Key())
		return
	}
	if s, ok := c.decode(e.Key(), e.Value()); ok {
		orgs[e.Key()] = s
	} else {
		delete(orgs, e.Key())
	}
}

// decode turns a stored record into the organization's signing state. ok is
// false when the record holds no signing secret (deliver unsigned). Any
// signing secret that cannot be decrypted makes the whole organization fail
// closed: signing with only some of its secrets could be rejected by a
// receiver that still has only the other one.
func (c *Cache) decode(orgID string, value []byte) (orgSecrets, bool) {
	r, err := decodeRecord(orgID, value)
	if err != nil {
		return unavailable(err), true
	}
	active := r.find(StatusActive)
	if active == nil {
		return orgSecrets{}, false // decodeRecord guarantees no expiring entry either
	}
	s := orgSecrets{all: make([]string, 0, 2)}
	for _, e := range []*entry{active, r.find(StatusExpiring)} {
		if e == nil {
			continue
		}
		secret, err := c.openSecret(orgID, e)
		if err != nil {
			return unavailable(err), true
		}
		s.all = append(s.all, secret)
		if e.ExpiresAt != nil && e.Status == StatusExpiring {
			s.expiresAt = *e.ExpiresAt
		}
	}
	s.all = slices.Clip(s.all) // a caller's append must not write into the shared array
	return s, true
}

// openSecret decrypts one entry and checks that the result is a well-formed
// signing secret.
func (c *Cache) openSecret(orgID string, e *entry) (string, error) {
	plaintext, err := c.keyring.open(orgID, e.ID, e.sealed())
	if err != nil {
		return "", fmt.Errorf("secrets: org %q: secret %s: %w", orgID, e.ID, err)
	}
	defer clear(plaintext)
	if err := sign.ValidateSecret(string(plaintext)); err != nil {
		return "", fmt.Errorf("secrets: org %q: secret %s: decrypted value is not a signing secret: %w",
			orgID, e.ID, ErrCorruptRecord)
	}
	return string(plaintext), nil
}

func unavailable(cause error) orgSecrets {
	return orgSecrets{err: fmt.Errorf("%w: %w", ErrSecretUnavailable, cause)}
}
