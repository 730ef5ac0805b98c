package secrets

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// leak is a marker planted in corrupt values; errors must never echo it.
const leak = "sk_whsec_4c45414b4c45414b4c45414b4c45414b4c45414b4c45414b4c45414b4c45414b"

// validRecord returns a well-formed record with an active, an expiring and
// a revoked entry (the ciphertexts are not real: decodeRecord does not
// decrypt).
func validRecord() *record {
	exp, rev := t0.Add(time.Hour), t0.Add(-time.Hour)
	nonce := make([]byte, NonceBytes)
	return &record{V: 1, OrgID: "org_1", Secrets: []entry{
		{ID: "11111111-1111-4111-8111-111111111111", Status: StatusActive, CreatedAt: t0,
			Preview: "sk_whsec_••••…aaaa", KeyID: "k1", Nonce: nonce, Ciphertext: []byte("ct-and-tag")},
		{ID: "22222222-2222-4222-8222-222222222222", Status: StatusExpiring, CreatedAt: t0.Add(-time.Hour),
			ExpiresAt: &exp, Preview: "sk_whsec_••••…bbbb", KeyID: "k1", Nonce: nonce, Ciphertext: []byte("ct-and-tag")},
		{ID: "33333333-3333-4333-8333-333333333333", Status: StatusRevoked, CreatedAt: t0.Add(-2 * time.Hour),
			RevokedAt: &rev, Preview: "sk_whsec_••••…cccc"},
	}}
}

func TestDecodeRecord(t *testing.T) {
	encode := func(edit func(r *record)) []byte {
		r := validRecord()
		edit(r)
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name    string
		value   []byte
		wantErr bool
	}{
		{"valid", encode(func(*record) {}), false},
		{"valid, active only", encode(func(r *record) { r.Secrets = r.Secrets[:1] }), false},
		{"valid, revoked only", encode(func(r *record) { r.Secrets = r.Secrets[2:] }), false},
		{"valid, empty", encode(func(r *record) { r.Secrets = nil }), false},
		{"garbage bytes", []byte("\x00\xffgarbage " + leak), true},
		{"plaintext instead of a record", []byte(leak), true},
		{"JSON string", []byte(`"` + leak + `"`), true},
		{"number where a string goes", []byte(`{"v":1,"org_id":12345678901234567890}`), true},
		{"bad base64 nonce", []byte(`{"v":1,"org_id":"org_1","secrets":[{"nonce":"` + leak + `!"}]}`), true},
		{"bad time", []byte(`{"v":1,"org_id":"org_1","secrets":[{"created_at":"` + leak + `"}]}`), true},
		{"version 2", encode(func(r *record) { r.V = 2 }), true},
		{"version missing", encode(func(r *record) { r.V = 0 }), true},
		{"org_id of another org", encode(func(r *record) { r.OrgID = "org_2" }), true},
		{"id not a UUID", encode(func(r *record) { r.Secrets[0].ID = leak }), true},
		{"duplicate id", encode(func(r *record) { r.Secrets[1].ID = r.Secrets[0].ID }), true},
		{"unknown status", encode(func(r *record) { r.Secrets[0].Status = leak }), true},
		{"two active", encode(func(r *record) { r.Secrets[1].Status = StatusActive }), true},
		{"two expiring", encode(func(r *record) { r.Secrets[0].Status = StatusExpiring; r.Secrets[0].ExpiresAt = r.Secrets[1].ExpiresAt }), true},
		{"expiring without active", encode(func(r *record) { r.Secrets = r.Secrets[1:] }), true},
		{"expiring without expires_at", encode(func(r *record) { r.Secrets[1].ExpiresAt = nil }), true},
		{"revoked without revoked_at", encode(func(r *record) { r.Secrets[2].RevokedAt = nil }), true},
		{"missing created_at", encode(func(r *record) { r.Secrets[0].CreatedAt = time.Time{} }), true},
		{"missing key_id", encode(func(r *record) { r.Secrets[0].KeyID = "" }), true},
		{"short nonce", encode(func(r *record) { r.Secrets[0].Nonce = r.Secrets[0].Nonce[:4] }), true},
		{"missing ciphertext", encode(func(r *record) { r.Secrets[0].Ciphertext = nil }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeRecord("org_1", tt.value)
			if (err != nil) != tt.wantErr {
				t.Fatalf("decodeRecord() error = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, ErrCorruptRecord) {
				t.Errorf("error %v does not wrap ErrCorruptRecord", err)
			}
			if msg := err.Error(); strings.Contains(msg, secretHex(leak)[:16]) || strings.Contains(msg, "1234567890") {
				t.Errorf("error %q quotes the stored value", msg)
			}
		})
	}
}

func TestRecordTransitions(t *testing.T) {
	fresh := func(n int) entry {
		e := validRecord().Secrets[0]
		e.ID = fmt.Sprintf("%08x-1111-4111-8111-111111111111", n)
		return e
	}
	r := &record{V: 1, OrgID: "org_1"}
	for i := range 8 {
		r.applyCreate(fresh(i), t0.Add(time.Duration(i)*time.Minute))
	}
	if problem := checkEntries(r.Secrets); problem != "" {
		t.Fatalf("after 8 creates: %s", problem)
	}
	if got, want := len(r.Secrets), 1+MaxRevoked; got != want {
		t.Errorf("after 8 creates: %d entries, want %d (1 active + %d revoked)", got, want, MaxRevoked)
	}
	if r.Secrets[0].ID != fresh(7).ID || r.Secrets[len(r.Secrets)-1].ID != fresh(2).ID {
		t.Errorf("entries = %v, want newest first, oldest revoked dropped", statuses(r))
	}
	for _, e := range r.Secrets[1:] {
		if e.Nonce != nil || e.Ciphertext != nil || e.KeyID != "" {
			t.Errorf("revoked entry %s keeps key material", e.ID)
		}
	}

	// An expiring entry past its overlap is revoked as of expires_at.
	if err := r.applyRoll(fresh(8), t0, time.Hour); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(2 * time.Hour)
	if err := r.applyDelete(later); err != nil {
		t.Fatal(err)
	}
	old := r.Secrets[1]
	if old.Status != StatusRevoked || !old.RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("expired entry = %s revoked_at %v, want revoked at %v", old.Status, old.RevokedAt, t0.Add(time.Hour))
	}
	if err := r.applyDelete(later); !errors.Is(err, ErrNoSecret) {
		t.Errorf("second applyDelete = %v, want ErrNoSecret", err)
	}
	if err := r.applyRoll(fresh(9), later, time.Hour); !errors.Is(err, ErrNoSecret) {
		t.Errorf("applyRoll without active = %v, want ErrNoSecret", err)
	}
}
