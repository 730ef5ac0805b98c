package secrets

import (
	"errors"
	"testing"
)

// TestMasterKeyRotation walks the documented rotation: records under k1;
// deploy "k2,k1" (reads k1, writes k2); Reencrypt; deploy "k2" alone.
func TestMasterKeyRotation(t *testing.T) {
	kv := newBucket(t)
	clk := newClock()
	k1 := mustKeyring(t, "k1")
	old := newManager(kv, k1, clk)
	a1, _, _ := old.Create(ctx(t), "org_a")
	b1, _, _ := old.Create(ctx(t), "org_b")
	b2, _, err := old.Roll(ctx(t), "org_b", DefaultOverlap) // two signing entries under k1
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"org_a": {a1}, "org_b": {b2, b1}}

	both := mustKeyring(t, "k2", "k1")
	t.Run("k2,k1 reads k1 records", func(t *testing.T) {
		c := newCache(t, kv, both)
		for org, secrets := range want {
			waitSigning(t, c, org, t0, secrets)
		}
	})

	rotating := newManager(kv, both, clk)
	c3, _, _ := rotating.Create(ctx(t), "org_c") // already under k2
	want["org_c"] = []string{c3}

	n, err := rotating.Reencrypt(ctx(t))
	if err != nil || n != 2 {
		t.Fatalf("Reencrypt() = %d, %v; want 2 records (org_a, org_b), nil", n, err)
	}
	for org := range want {
		for _, e := range readRecord(t, kv, org).Secrets {
			if e.signs() && e.KeyID != "k2" {
				t.Errorf("%s secret %s key_id = %q after Reencrypt, want k2", org, e.ID, e.KeyID)
			}
		}
	}
	if n, err := rotating.Reencrypt(ctx(t)); n != 0 || err != nil {
		t.Errorf("second Reencrypt() = %d, %v; want 0, nil", n, err)
	}

	t.Run("k2 alone reads everything", func(t *testing.T) {
		c := newCache(t, kv, mustKeyring(t, "k2"))
		for org, secrets := range want {
			waitSigning(t, c, org, t0, secrets)
		}
	})
	t.Run("k1 alone no longer can", func(t *testing.T) {
		c := newCache(t, kv, k1)
		err := waitUnavailable(t, c, "org_a")
		if !errors.Is(err, ErrUnknownKeyID) {
			t.Errorf("Signing error = %v, want ErrUnknownKeyID", err)
		}
	})
}

// TestReencryptCarriesOn checks that one bad record does not stop the
// others from being re-encrypted.
func TestReencryptCarriesOn(t *testing.T) {
	kv := newBucket(t)
	clk := newClock()
	old := newManager(kv, mustKeyring(t, "k1"), clk)
	if _, _, err := old.Create(ctx(t), "org_a"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := newManager(kv, mustKeyring(t, "k9"), clk).Create(ctx(t), "org_lost"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx(t), "org_garbage", []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx(t), "not.an.org", []byte("ignored")); err != nil {
		t.Fatal(err)
	}

	n, err := newManager(kv, mustKeyring(t, "k2", "k1"), clk).Reencrypt(ctx(t))
	if n != 1 {
		t.Errorf("Reencrypt() rewrote %d records, want 1 (org_a)", n)
	}
	for _, want := range []error{ErrUnknownKeyID, ErrCorruptRecord} {
		if !errors.Is(err, want) {
			t.Errorf("Reencrypt() error = %v, want it to wrap %v", err, want)
		}
	}
	if got := readRecord(t, kv, "org_a").Secrets[0].KeyID; got != "k2" {
		t.Errorf("org_a key_id = %q, want k2", got)
	}
}
