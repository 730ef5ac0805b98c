package secrets

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
)

// bucketName is the KV bucket the tests use.
const bucketName = "SIGNING_SECRETS"

// t0 is the tests' starting wall-clock time.
var t0 = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

// clock is an injected, manually advanced time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// keyB64 returns the standard base64 of a 32-byte key filled with b.
func keyB64(b byte) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, MasterKeyBytes))
}

// mustKeyring parses a spec like "k2:<key 2>,k1:<key 1>" where each <key N>
// is keyB64('N').
func mustKeyring(t testing.TB, kids ...string) *Keyring {
	t.Helper()
	var parts []string
	for _, kid := range kids {
		parts = append(parts, kid+":"+keyB64(kid[len(kid)-1]))
	}
	k, err := ParseKeyring(strings.Join(parts, ","))
	if err != nil {
		t.Fatalf("ParseKeyring(%v) = %v", kids, err)
	}
	return k
}

// newBucket starts an in-process JetStream server and creates the bucket.
func newBucket(t testing.TB) jetstream.KeyValue {
	t.Helper()
	s := jstest.Server(t)
	_, js := jstest.Connect(t, s)
	return createBucket(t, js)
}

func createBucket(t testing.TB, js jetstream.JetStream) jetstream.KeyValue {
	t.Helper()
	kv, err := js.CreateKeyValue(jstest.Context(t, 10*time.Second), jetstream.KeyValueConfig{Bucket: bucketName, History: 1})
	if err != nil {
		t.Fatalf("CreateKeyValue: %v", err)
	}
	return kv
}

// newManager returns a Manager on kv with the keyring and clock.
func newManager(kv jetstream.KeyValue, kr *Keyring, clk *clock) *Manager {
	return &Manager{KV: kv, Keyring: kr, Now: clk.Now}
}

// newCache starts a Cache stopped when the test ends.
func newCache(t testing.TB, kv jetstream.KeyValue, kr *Keyring) *Cache {
	t.Helper()
	c, err := NewCache(jstest.Context(t, time.Minute), kv, kr, nil)
	if err != nil {
		t.Fatalf("NewCache: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}

// ctx returns a context for one test operation.
func ctx(t testing.TB) context.Context { return jstest.Context(t, 10*time.Second) }

// waitSigning waits until c.Signing(org, now) returns want and no error.
func waitSigning(t testing.TB, c *Cache, org string, now time.Time, want []string) {
	t.Helper()
	waitSigningWithin(t, 5*time.Second, c, org, now, want)
}

// waitSigningWithin is waitSigning with a deadline of d.
func waitSigningWithin(t testing.TB, d time.Duration, c *Cache, org string, now time.Time, want []string) {
	t.Helper()
	var got []string
	var err error
	jstest.Eventually(t, d, func() bool {
		got, err = c.Signing(org, now)
		return err == nil && slices.Equal(got, want)
	}, "Signing(%q) = %d secrets, %v; want %d secrets", org, len(got), err, len(want))
}

// waitUnavailable waits until c.Signing(org) fails with
// ErrSecretUnavailable and returns that error.
func waitUnavailable(t testing.TB, c *Cache, org string) error {
	t.Helper()
	var err error
	jstest.Eventually(t, 5*time.Second, func() bool {
		_, err = c.Signing(org, t0)
		return errors.Is(err, ErrSecretUnavailable)
	}, "Signing(%q) error = %v, want ErrSecretUnavailable", org, err)
	return err
}

// rawValue returns the bytes stored under org.
func rawValue(t testing.TB, kv jetstream.KeyValue, org string) []byte {
	t.Helper()
	e, err := kv.Get(ctx(t), org)
	if err != nil {
		t.Fatalf("kv.Get(%q): %v", org, err)
	}
	return e.Value()
}

// lastSeq returns the bucket's last revision: it changes with every write.
func lastSeq(t testing.TB, kv jetstream.KeyValue) uint64 {
	t.Helper()
	st, err := kv.Status(ctx(t))
	if err != nil {
		t.Fatalf("kv.Status: %v", err)
	}
	return st.(*jetstream.KeyValueBucketStatus).StreamInfo().State.LastSeq
}

// readRecord decodes the record stored under org.
func readRecord(t testing.TB, kv jetstream.KeyValue, org string) *record {
	t.Helper()
	r, err := decodeRecord(org, rawValue(t, kv, org))
	if err != nil {
		t.Fatalf("decodeRecord(%q): %v", org, err)
	}
	return r
}

// statuses returns "id=status" for each entry, for messages.
func statuses(r *record) map[string]string {
	m := make(map[string]string, len(r.Secrets))
	for _, e := range r.Secrets {
		m[e.ID] = e.Status
	}
	return m
}

// secretHex returns the random part of a secret, to look for it in bytes.
func secretHex(secret string) string { return strings.TrimPrefix(secret, "sk_whsec_") }
