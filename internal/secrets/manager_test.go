package secrets

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

func TestCreate(t *testing.T) {
	kv := newBucket(t)
	clk := newClock()
	m := newManager(kv, mustKeyring(t, "k1"), clk)
	c := newCache(t, kv, m.Keyring)

	first, meta, err := m.Create(ctx(t), "org_1")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := sign.ValidateSecret(first); err != nil {
		t.Errorf("Create plaintext: %v", err)
	}
	want := Meta{ID: meta.ID, OrgID: "org_1", Preview: sign.Mask(first), Status: StatusActive, CreatedAt: t0}
	if !metaEqual(meta, want) {
		t.Errorf("Create meta = %+v, want %+v", meta, want)
	}
	waitSigning(t, c, "org_1", t0, []string{first})

	// Encryption at rest: neither Show nor the stored bytes hold the secret.
	shown, err := m.Show(ctx(t), "org_1")
	if err != nil {
		t.Fatalf("Show: %v", err)
	}
	js, _ := json.Marshal(shown)
	raw := rawValue(t, kv, "org_1")
	for name, b := range map[string]string{"Show": string(js), "KV value": string(raw)} {
		if strings.Contains(b, secretHex(first)) || strings.Contains(b, secretHex(first)[:16]) {
			t.Errorf("%s contains the plaintext secret: %s", name, b)
		}
	}
	if !strings.Contains(string(raw), `"key_id":"k1"`) || !strings.Contains(string(raw), `"ciphertext":"`) {
		t.Errorf("KV value = %s, want an encrypted entry under k1", raw)
	}

	// A second Create revokes the first at once: no overlap.
	clk.Set(t0.Add(time.Minute))
	second, meta2, err := m.Create(ctx(t), "org_1")
	if err != nil {
		t.Fatalf("second Create: %v", err)
	}
	waitSigning(t, c, "org_1", clk.Now(), []string{second})
	shown, err = m.Show(ctx(t), "org_1")
	if err != nil {
		t.Fatal(err)
	}
	if len(shown) != 2 || shown[0].ID != meta2.ID || shown[0].Status != StatusActive ||
		shown[1].ID != meta.ID || shown[1].Status != StatusRevoked || !shown[1].RevokedAt.Equal(clk.Now()) {
		t.Errorf("Show after second Create = %+v, want [new active, old revoked at %v]", shown, clk.Now())
	}
}

func TestRoll(t *testing.T) {
	kv := newBucket(t)
	clk := newClock()
	m := newManager(kv, mustKeyring(t, "k1"), clk)
	c := newCache(t, kv, m.Keyring)

	tests := []struct {
		name    string
		overlap time.Duration
	}{
		{"default 24h overlap", DefaultOverlap},
		{"maximum 72h overlap", MaxOverlap},
		{"1ns overlap", time.Nanosecond},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org := "org_roll_" + string(rune('a'+i))
			clk.Set(t0)
			old, _, err := m.Create(ctx(t), org)
			if err != nil {
				t.Fatal(err)
			}
			clk.Set(t0.Add(time.Hour))
			fresh, meta, err := m.Roll(ctx(t), org, tt.overlap)
			if err != nil {
				t.Fatalf("Roll: %v", err)
			}
			if meta.Status != StatusActive || meta.Preview != sign.Mask(fresh) {
				t.Errorf("Roll meta = %+v, want active with preview of the new secret", meta)
			}
			expires := clk.Now().Add(tt.overlap)
			waitSigning(t, c, org, clk.Now(), []string{fresh, old})
			waitSigning(t, c, org, expires.Add(-time.Nanosecond), []string{fresh, old})
			waitSigning(t, c, org, expires, []string{fresh})

			shown, _ := m.Show(ctx(t), org)
			if shown[1].Status != StatusExpiring || !shown[1].ExpiresAt.Equal(expires) {
				t.Errorf("Show()[1] = %+v, want expiring until %v", shown[1], expires)
			}
			clk.Set(expires)
			shown, _ = m.Show(ctx(t), org)
			if shown[1].Status != StatusRevoked || !shown[1].RevokedAt.Equal(expires) {
				t.Errorf("Show()[1] after expiry = %+v, want revoked at %v", shown[1], expires)
			}
		})
	}

	t.Run("overlap 0 cuts over at once", func(t *testing.T) {
		clk.Set(t0)
		if _, _, err := m.Create(ctx(t), "org_cut"); err != nil {
			t.Fatal(err)
		}
		fresh, _, err := m.Roll(ctx(t), "org_cut", 0)
		if err != nil {
			t.Fatal(err)
		}
		waitSigning(t, c, "org_cut", t0, []string{fresh})
		if r := readRecord(t, kv, "org_cut"); r.Secrets[1].Status != StatusRevoked {
			t.Errorf("old secret = %s, want revoked", r.Secrets[1].Status)
		}
	})

	t.Run("roll during an overlap drops the oldest", func(t *testing.T) {
		clk.Set(t0)
		s1, m1, _ := m.Create(ctx(t), "org_twice")
		s2, m2, err := m.Roll(ctx(t), "org_twice", DefaultOverlap)
		if err != nil {
			t.Fatal(err)
		}
		waitSigning(t, c, "org_twice", t0, []string{s2, s1})
		clk.Set(t0.Add(time.Hour))
		s3, _, err := m.Roll(ctx(t), "org_twice", DefaultOverlap)
		if err != nil {
			t.Fatal(err)
		}
		waitSigning(t, c, "org_twice", clk.Now(), []string{s3, s2})
		r := readRecord(t, kv, "org_twice")
		if got := statuses(r); got[m1.ID] != StatusRevoked || got[m2.ID] != StatusExpiring {
			t.Errorf("statuses = %v, want first revoked, second expiring", got)
		}
		if !r.Secrets[1].ExpiresAt.Equal(clk.Now().Add(DefaultOverlap)) {
			t.Errorf("second expires_at = %v, want %v", r.Secrets[1].ExpiresAt, clk.Now().Add(DefaultOverlap))
		}
	})
}

func TestDelete(t *testing.T) {
	kv := newBucket(t)
	m := newManager(kv, mustKeyring(t, "k1"), newClock())
	c := newCache(t, kv, m.Keyring)

	s1, _, _ := m.Create(ctx(t), "org_1")
	s2, _, _ := m.Roll(ctx(t), "org_1", DefaultOverlap)
	waitSigning(t, c, "org_1", t0, []string{s2, s1})
	if err := m.Delete(ctx(t), "org_1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	waitSigning(t, c, "org_1", t0, nil)
	if got, err := c.Signing("org_1", t0); got != nil || err != nil {
		t.Errorf("Signing after Delete = %v, %v; want nil, nil (unsigned)", got, err)
	}
	shown, err := m.Show(ctx(t), "org_1")
	if err != nil || len(shown) != 2 || shown[0].Status != StatusRevoked || shown[1].Status != StatusRevoked {
		t.Errorf("Show after Delete = %+v, %v; want two revoked", shown, err)
	}
	if err := m.Delete(ctx(t), "org_1"); !errors.Is(err, ErrNoSecret) {
		t.Errorf("second Delete = %v, want ErrNoSecret", err)
	}
	if _, _, err := m.Roll(ctx(t), "org_1", 0); !errors.Is(err, ErrNoSecret) {
		t.Errorf("Roll after Delete = %v, want ErrNoSecret", err)
	}
	s3, _, err := m.Create(ctx(t), "org_1")
	if err != nil {
		t.Fatal(err)
	}
	waitSigning(t, c, "org_1", t0, []string{s3})
}

func TestInvalidInputChangesNothing(t *testing.T) {
	kv := newBucket(t)
	clk := newClock()
	m := newManager(kv, mustKeyring(t, "k1"), clk)
	if _, _, err := m.Create(ctx(t), "org_1"); err != nil {
		t.Fatal(err)
	}
	noKeyring := &Manager{KV: kv, Now: clk.Now}
	tests := []struct {
		name string
		op   func() error
		want error
	}{
		{"create: empty org", func() error { _, _, err := m.Create(ctx(t), ""); return err }, ErrInvalidOrgID},
		{"create: org with a dot", func() error { _, _, err := m.Create(ctx(t), "org.1"); return err }, ErrInvalidOrgID},
		{"create: org with a wildcard", func() error { _, _, err := m.Create(ctx(t), "org*"); return err }, ErrInvalidOrgID},
		{"create: org of 65 chars", func() error { _, _, err := m.Create(ctx(t), strings.Repeat("o", 65)); return err }, ErrInvalidOrgID},
		{"create: nil keyring", func() error { _, _, err := noKeyring.Create(ctx(t), "org_2"); return err }, ErrNoMasterKey},
		{"roll: nil keyring", func() error { _, _, err := noKeyring.Roll(ctx(t), "org_1", 0); return err }, ErrNoMasterKey},
		{"roll: overlap -1h", func() error { _, _, err := m.Roll(ctx(t), "org_1", -time.Hour); return err }, ErrInvalidOverlap},
		{"roll: overlap -1ns", func() error { _, _, err := m.Roll(ctx(t), "org_1", -1); return err }, ErrInvalidOverlap},
		{"roll: overlap 73h", func() error { _, _, err := m.Roll(ctx(t), "org_1", 73*time.Hour); return err }, ErrInvalidOverlap},
		{"roll: overlap 72h+1ns", func() error { _, _, err := m.Roll(ctx(t), "org_1", MaxOverlap+1); return err }, ErrInvalidOverlap},
		{"roll: unknown org", func() error { _, _, err := m.Roll(ctx(t), "org_unknown", time.Hour); return err }, ErrNoSecret},
		{"delete: unknown org", func() error { return m.Delete(ctx(t), "org_unknown") }, ErrNoSecret},
		{"delete: invalid org", func() error { return m.Delete(ctx(t), "a b") }, ErrInvalidOrgID},
		{"show: unknown org", func() error { _, err := m.Show(ctx(t), "org_unknown"); return err }, ErrNoSecret},
		{"show: invalid org", func() error { _, err := m.Show(ctx(t), "org>"); return err }, ErrInvalidOrgID},
		{"reencrypt: nil keyring", func() error { _, err := noKeyring.Reencrypt(ctx(t)); return err }, ErrNoMasterKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := lastSeq(t, kv)
			err := tt.op()
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if after := lastSeq(t, kv); after != before {
				t.Errorf("bucket revision %d -> %d: something was written", before, after)
			}
		})
	}
}

// metaEqual compares Metas, times by instant.
func metaEqual(a, b Meta) bool {
	ptrEq := func(x, y *time.Time) bool { return x == nil && y == nil || x != nil && y != nil && x.Equal(*y) }
	return a.ID == b.ID && a.OrgID == b.OrgID && a.Preview == b.Preview && a.Status == b.Status &&
		a.CreatedAt.Equal(b.CreatedAt) && ptrEq(a.ExpiresAt, b.ExpiresAt) && ptrEq(a.RevokedAt, b.RevokedAt)
}
