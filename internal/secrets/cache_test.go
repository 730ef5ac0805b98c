package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
)

// TestCacheFailsClosedPerOrg breaks one org's record in each way the
// deliverer can meet and checks that only that org fails closed, with an
// error that names the cause and holds no secret.
func TestCacheFailsClosedPerOrg(t *testing.T) {
	kv := newBucket(t)
	clk := newClock()
	m := newManager(kv, mustKeyring(t, "k1"), clk)
	good, _, err := m.Create(ctx(t), "org_good")
	if err != nil {
		t.Fatal(err)
	}
	c := newCache(t, kv, m.Keyring)
	var plaintexts []string // every secret the errors must not contain

	// edit rewrites org's stored record through f.
	edit := func(t *testing.T, org string, f func(r *record)) {
		r := readRecord(t, kv, org)
		f(r)
		b, _ := json.Marshal(r)
		if _, err := kv.Put(ctx(t), org, b); err != nil {
			t.Fatal(err)
		}
	}
	createWith := func(t *testing.T, mgr *Manager, org string) {
		s, _, err := mgr.Create(ctx(t), org)
		if err != nil {
			t.Fatal(err)
		}
		plaintexts = append(plaintexts, s)
	}
	tests := []struct {
		name    string
		org     string
		breakIt func(t *testing.T, org string)
		cause   error
	}{
		{"garbage bytes holding a secret", "org_garbage", func(t *testing.T, org string) {
			plaintexts = append(plaintexts, leak)
			if _, err := kv.Put(ctx(t), org, []byte("\x00garbage "+leak)); err != nil {
				t.Fatal(err)
			}
		}, ErrCorruptRecord},
		{"unsupported version", "org_v2", func(t *testing.T, org string) {
			createWith(t, m, org)
			edit(t, org, func(r *record) { r.V = 2 })
		}, ErrCorruptRecord},
		{"unknown key id", "org_k9", func(t *testing.T, org string) {
			createWith(t, newManager(kv, mustKeyring(t, "k9"), clk), org)
		}, ErrUnknownKeyID},
		{"tampered ciphertext", "org_tampered", func(t *testing.T, org string) {
			createWith(t, m, org)
			edit(t, org, func(r *record) { r.Secrets[0].Ciphertext[0] ^= 1 })
		}, ErrDecrypt},
		{"ciphertext copied from another org", "org_copy", func(t *testing.T, org string) {
			createWith(t, m, org)
			src := readRecord(t, kv, "org_good").Secrets[0]
			edit(t, org, func(r *record) { r.Secrets[0] = src })
		}, ErrDecrypt},
		{"expiring secret broken, active fine", "org_half", func(t *testing.T, org string) {
			createWith(t, m, org)
			s, _, _ := m.Roll(ctx(t), org, DefaultOverlap)
			plaintexts = append(plaintexts, s)
			edit(t, org, func(r *record) { r.Secrets[1].Nonce[0] ^= 1 })
		}, ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.breakIt(t, tt.org)
			err := waitUnavailable(t, c, tt.org)
			if !errors.Is(err, tt.cause) {
				t.Errorf("Signing(%q) error = %v, want it to wrap %v", tt.org, err, tt.cause)
			}
			if !strings.Contains(err.Error(), tt.org) {
				t.Errorf("error %q does not name the org", err)
			}
			for _, s := range append(plaintexts, good) {
				if strings.Contains(err.Error(), secretHex(s)[:16]) {
					t.Errorf("error %q contains a secret", err)
				}
			}
			if got, err := c.Signing("org_good", t0); err != nil || len(got) != 1 || got[0] != good {
				t.Errorf("Signing(org_good) = %d secrets, %v; want the good secret", len(got), err)
			}
		})
	}

	t.Run("fixing the record heals the org", func(t *testing.T) {
		fresh, _, err := m.Create(ctx(t), "org_k9") // revokes the k9 secret without decrypting it
		if err != nil {
			t.Fatal(err)
		}
		waitSigning(t, c, "org_k9", t0, []string{fresh})
	})
}

func TestCacheNoSecret(t *testing.T) {
	kv := newBucket(t)
	m := newManager(kv, mustKeyring(t, "k1"), newClock())
	c := newCache(t, kv, m.Keyring)
	tests := []struct {
		name   string
		remove func(t *testing.T, org string)
	}{
		{"never had one", nil},
		{"deleted by Manager.Delete", func(t *testing.T, org string) { _ = m.Delete(ctx(t), org) }},
		{"KV key deleted", func(t *testing.T, org string) { _ = kv.Delete(ctx(t), org) }},
		{"KV key purged", func(t *testing.T, org string) { _ = kv.Purge(ctx(t), org) }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org := "org_" + string(rune('a'+i))
			if tt.remove != nil {
				s, _, _ := m.Create(ctx(t), org)
				waitSigning(t, c, org, t0, []string{s})
				tt.remove(t, org)
			}
			waitSigning(t, c, org, t0, nil)
			if got, err := c.Signing(org, t0); got != nil || err != nil {
				t.Errorf("Signing() = %v, %v; want nil, nil", got, err)
			}
		})
	}
}

// TestCachePropagation measures how long a KV change takes to reach the
// Cache; the contract is under one second.
func TestCachePropagation(t *testing.T) {
	kv := newBucket(t)
	m := newManager(kv, mustKeyring(t, "k1"), newClock())
	c := newCache(t, kv, m.Keyring)
	var last string
	ops := []struct {
		name string
		op   func() []string
	}{
		{"Create", func() []string { s, _, _ := m.Create(ctx(t), "org_1"); last = s; return []string{s} }},
		{"Roll", func() []string {
			s, _, _ := m.Roll(ctx(t), "org_1", DefaultOverlap)
			w := []string{s, last}
			last = s
			return w
		}},
		{"Delete", func() []string { _ = m.Delete(ctx(t), "org_1"); return nil }},
	}
	for _, tt := range ops {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			want := tt.op()
			var delay time.Duration
			jstest.Eventually(t, time.Second, func() bool {
				got, err := c.Signing("org_1", t0)
				delay = time.Since(start)
				return err == nil && strings.Join(got, ",") == strings.Join(want, ",")
			}, "%s not in effect in the cache", tt.name)
			t.Logf("%s: in effect in the cache after %v (write included; polled every 10ms)", tt.name, delay)
			if delay >= time.Second {
				t.Errorf("propagation delay %v, want < 1s", delay)
			}
		})
	}
}

func TestCacheStop(t *testing.T) {
	kv := newBucket(t)
	m := newManager(kv, mustKeyring(t, "k1"), newClock())
	if _, _, err := m.Create(ctx(t), "org_1"); err != nil {
		t.Fatal(err)
	}
	t.Run("Stop", func(t *testing.T) {
		c := newCache(t, kv, m.Keyring)
		if !c.Ready() {
			t.Fatalf("Ready() = false after NewCache, want true")
		}
		c.Stop()
		c.Stop() // idempotent
		assertStopped(t, c)
	})
	t.Run("context cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(jstest.Context(t, time.Minute))
		c, err := NewCache(cctx, kv, m.Keyring, nil)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		jstest.Eventually(t, 5*time.Second, func() bool { return !c.Ready() }, "Ready() after cancel")
		assertStopped(t, c)
		c.Stop()
	})
	t.Run("nil keyring", func(t *testing.T) {
		if _, err := NewCache(ctx(t), kv, nil, nil); !errors.Is(err, ErrNoMasterKey) {
			t.Errorf("NewCache(nil keyring) error = %v, want ErrNoMasterKey", err)
		}
	})
}

func assertStopped(t *testing.T, c *Cache) {
	t.Helper()
	if c.Ready() {
		t.Errorf("Ready() = true after stop, want false")
	}
	for _, org := range []string{"org_1", "org_never"} {
		if got, err := c.Signing(org, t0); got != nil || !errors.Is(err, ErrSecretUnavailable) {
			t.Errorf("Signing(%q) after stop = %d secrets, %v; want ErrSecretUnavailable", org, len(got), err)
		}
	}
}

// TestSigningConcurrentAndAllocFree reads from many goroutines while the
// secret is rolled (run with -race), and checks a lookup allocates nothing.
func TestSigningConcurrentAndAllocFree(t *testing.T) {
	kv := newBucket(t)
	m := newManager(kv, mustKeyring(t, "k1"), newClock())
	first, _, _ := m.Create(ctx(t), "org_1")
	c := newCache(t, kv, m.Keyring)
	waitSigning(t, c, "org_1", t0, []string{first})

	allocs := testing.AllocsPerRun(1000, func() {
		_, _ = c.Signing("org_1", t0)
		_, _ = c.Signing("org_none", t0)
	})
	if allocs != 0 {
		t.Errorf("Signing allocates %.1f times per call, want 0", allocs)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				runtime.Gosched()
				got, err := c.Signing("org_1", t0)
				if err != nil || len(got) == 0 || len(got) > 2 {
					t.Errorf("Signing() = %d secrets, %v during rolls", len(got), err)
					return
				}
			}
		})
	}
	var s string
	for range 10 {
		s, _, _ = m.Roll(ctx(t), "org_1", DefaultOverlap)
	}
	waitSigning(t, c, "org_1", t0.Add(DefaultOverlap), []string{s})
	close(stop)
	wg.Wait()
}

func BenchmarkSigning(b *testing.B) {
	kv := newBucket(b)
	m := newManager(kv, mustKeyring(b, "k1"), newClock())
	for _, org := range []string{"org_1", "org_2", "org_3"} {
		_, _, _ = m.Create(ctx(b), org)
	}
	_, _, _ = m.Roll(ctx(b), "org_2", DefaultOverlap)
	c := newCache(b, kv, m.Keyring)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = c.Signing("org_2", t0)
		}
	})
}
