package secrets

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestParseKeyring(t *testing.T) {
	k1, k2 := keyB64('1'), keyB64('2')
	tests := []struct {
		name    string
		spec    string
		wantIDs []string
	}{
		{"one key", "k1:" + k1, []string{"k1"}},
		{"two keys, primary first", "k2:" + k2 + ",k1:" + k1, []string{"k2", "k1"}},
		{"spaces around entries", " k2:" + k2 + " , k1:" + k1 + " ", []string{"k2", "k1"}},
		{"longest kid", strings.Repeat("a", 32) + ":" + k1, []string{strings.Repeat("a", 32)}},
		{"kid with _ and -", "prod_2026-05:" + k1, []string{"prod_2026-05"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKeyring(tt.spec)
			if err != nil {
				t.Fatalf("ParseKeyring() error = %v, want nil", err)
			}
			if got := k.KeyIDs(); !slices.Equal(got, tt.wantIDs) {
				t.Errorf("KeyIDs() = %v, want %v", got, tt.wantIDs)
			}
			if got, want := k.PrimaryID(), tt.wantIDs[0]; got != want {
				t.Errorf("PrimaryID() = %q, want %q", got, want)
			}
			if k.Insecure() {
				t.Errorf("Insecure() = true, want false")
			}
		})
	}
}

func TestParseKeyringErrors(t *testing.T) {
	// secretish is key material that must never appear in an error.
	secretish := "U0VDUkVULUtFWS1NQVRFUklBTC0wMTIzNDU2Nzg5YWI=" // 32 bytes, valid
	short := base64.StdEncoding.EncodeToString([]byte("SECRET-KEY-MATERIAL-31-bytes!!!"))
	long := base64.StdEncoding.EncodeToString([]byte("SECRET-KEY-MATERIAL-33-bytes!!!!!"))
	tests := []struct {
		name     string
		spec     string
		want     error
		mentions string // the error names the entry
	}{
		{"empty", "", ErrNoMasterKey, "empty"},
		{"only spaces", "   ", ErrNoMasterKey, "empty"},
		{"missing colon: key pasted alone", secretish, ErrInvalidKeyring, "entry 1"},
		{"empty kid", ":" + secretish, ErrInvalidKeyring, "entry 1"},
		{"kid with a dot", "k.1:" + secretish, ErrInvalidKeyring, "entry 1"},
		{"kid too long", strings.Repeat("a", 33) + ":" + secretish, ErrInvalidKeyring, "entry 1"},
		{"not base64", "k1:" + secretish[:20] + "!!" + secretish[22:], ErrInvalidKeyring, `"k1"`},
		{"url-safe base64", "k1:" + strings.NewReplacer("+", "-", "/", "_").Replace(keyB64(0xfb)), ErrInvalidKeyring, `"k1"`},
		{"31 bytes", "k1:" + short, ErrInvalidKeyring, "31 bytes"},
		{"33 bytes", "k1:" + long, ErrInvalidKeyring, "33 bytes"},
		{"duplicate kid", "k1:" + secretish + ",k1:" + keyB64('1'), ErrInvalidKeyring, "entry 2"},
		{"trailing comma", "k1:" + secretish + ",", ErrInvalidKeyring, "entry 2"},
		{"second entry bad", "k1:" + secretish + ",k2:" + short, ErrInvalidKeyring, "entry 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKeyring(tt.spec)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseKeyring() = %v, %v; want error wrapping %v", k, err, tt.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.mentions) {
				t.Errorf("error %q does not mention %q", msg, tt.mentions)
			}
			for _, material := range []string{secretish, secretish[:20], short[:20], long[:20], "SECRET-KEY"} {
				if strings.Contains(msg, material) {
					t.Errorf("error %q contains key material %q", msg, material)
				}
			}
		})
	}
}

func TestDevKeyring(t *testing.T) {
	dev := DevKeyring()
	if !dev.Insecure() || dev.PrimaryID() != DevKeyID {
		t.Fatalf("DevKeyring() = %v, Insecure %v; want primary %q, insecure", dev, dev.Insecure(), DevKeyID)
	}
	tests := []struct {
		name         string
		spec         string
		wantInsecure bool
	}{
		{"dev key as primary under another id", "local:" + devKeyBase64, true},
		{"dev key as secondary while migrating", "k1:" + keyB64('1') + ",local:" + devKeyBase64, false},
		{"real key", "k1:" + keyB64('1'), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKeyring(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := k.Insecure(); got != tt.wantInsecure {
				t.Errorf("Insecure() = %v, want %v", got, tt.wantInsecure)
			}
		})
	}
}

func TestKeyringPrintsNoKeyMaterial(t *testing.T) {
	k := mustKeyring(t, "k2", "k1")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		got := fmt.Sprintf(verb, k)
		if got != "keyring[k2(primary),k1]" {
			t.Errorf("Sprintf(%q, keyring) = %q, want %q", verb, got, "keyring[k2(primary),k1]")
		}
	}
	if got, want := DevKeyring().String(), "keyring[dev-insecure(primary) INSECURE-DEV-KEY]"; got != want {
		t.Errorf("DevKeyring().String() = %q, want %q", got, want)
	}
}

func TestSealOpen(t *testing.T) {
	k := mustKeyring(t, "k1")
	const org, id = "org_1", "5b1c1d8e-3f0a-4a8e-9c55-0f6c1b2a3d4e"
	plaintext := []byte("sk_whsec_" + strings.Repeat("ab", 32))
	s, err := k.seal(nil, org, id, plaintext)
	if err != nil {
		t.Fatalf("seal: %v", err)
	}
	if bytes.Contains(s.ciphertext, plaintext[9:]) || len(s.nonce) != NonceBytes || s.keyID != "k1" {
		t.Fatalf("seal = key %q, nonce %d bytes; want k1, %d bytes, ciphertext without plaintext", s.keyID, len(s.nonce), NonceBytes)
	}

	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 1; return c }
	tests := []struct {
		name   string
		keyr   *Keyring
		org    string
		id     string
		sealed sealed
		want   error
	}{
		{"round trip", k, org, id, s, nil},
		{"secondary key decrypts", mustKeyring(t, "k2", "k1"), org, id, s, nil},
		{"tampered ciphertext", k, org, id, sealed{s.keyID, s.nonce, flip(s.ciphertext, 3)}, ErrDecrypt},
		{"tampered tag", k, org, id, sealed{s.keyID, s.nonce, flip(s.ciphertext, len(s.ciphertext)-1)}, ErrDecrypt},
		{"tampered nonce", k, org, id, sealed{s.keyID, flip(s.nonce, 0), s.ciphertext}, ErrDecrypt},
		{"short nonce", k, org, id, sealed{s.keyID, s.nonce[:8], s.ciphertext}, ErrDecrypt},
		{"wrong org (AAD)", k, "org_2", id, s, ErrDecrypt},
		{"wrong secret id (AAD)", k, org, "6b1c1d8e-3f0a-4a8e-9c55-0f6c1b2a3d4e", s, ErrDecrypt},
		{"unknown key id", mustKeyring(t, "k2"), org, id, s, ErrUnknownKeyID},
		{"same id, other key", mustKeyring(t, "k9"), org, id, sealed{"k9", s.nonce, s.ciphertext}, ErrDecrypt},
		{"nil keyring", nil, org, id, s, ErrNoMasterKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.keyr.open(tt.org, tt.id, tt.sealed)
			if !errors.Is(err, tt.want) {
				t.Fatalf("open() error = %v, want %v", err, tt.want)
			}
			if tt.want == nil && !bytes.Equal(got, plaintext) {
				t.Errorf("open() = %q, want the plaintext", got)
			}
			if err != nil && strings.Contains(err.Error(), string(plaintext[9:])) {
				t.Errorf("error %q contains the plaintext", err)
			}
		})
	}
}

func TestSealNonce(t *testing.T) {
	k := mustKeyring(t, "k1")
	a, _ := k.seal(nil, "o", "i", []byte("x"))
	b, _ := k.seal(nil, "o", "i", []byte("x"))
	if bytes.Equal(a.nonce, b.nonce) {
		t.Errorf("two seals used the same nonce %x", a.nonce)
	}
	fixed := bytes.Repeat([]byte{7}, NonceBytes)
	c, err := k.seal(bytes.NewReader(fixed), "o", "i", []byte("x"))
	if err != nil || !bytes.Equal(c.nonce, fixed) {
		t.Errorf("seal(fixed reader) nonce = %x, %v; want %x", c.nonce, err, fixed)
	}
	if _, err := k.seal(bytes.NewReader(fixed[:5]), "o", "i", []byte("x")); err == nil {
		t.Errorf("seal(short reader) error = nil, want an error")
	}
}
