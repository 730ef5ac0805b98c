package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
)

const (
	// MasterKeyBytes is the length of every master key after base64
	// decoding: 32 bytes, an AES-256 key.
	MasterKeyBytes = 32
	// NonceBytes is the AES-GCM nonce length used for every record: 12
	// bytes, fresh from the random source for every seal.
	NonceBytes = 12
	// maxKeyIDLen bounds a key id; see validKeyID.
	maxKeyIDLen = 32

	// DevKeyID is the key id of DevKeyring.
	DevKeyID = "dev-insecure"
	// devKeyBase64 is the dev master key: the ASCII bytes
	// "sixtyfour-webhooks-dev-NOTSECRET". It is published in this source
	// file, so anything encrypted under it is readable by anyone.
	devKeyBase64 = "c2l4dHlmb3VyLXdlYmhvb2tzLWRldi1OT1RTRUNSRVQ="
)

// aadPrefix starts the AES-GCM additional data; the org id and the secret id
// follow, separated by NUL bytes (neither can contain NUL).
const aadPrefix = "sixtyfour-webhooks/signing-secret/v1\x00"

// Keyring holds the operator's master keys, by key id. The first key is the
// primary: it encrypts every new or re-encrypted secret. Every key can
// decrypt, so a master key is rotated by deploying "new:...,old:..." (new
// first), running Manager.Reencrypt, then deploying "new:..." alone.
//
// A Keyring is immutable and safe for concurrent use. It keeps only the
// AES-GCM ciphers, not the raw key bytes, and its String and GoString
// methods print key ids only, never key material.
type Keyring struct {
	primary  string
	ids      []string
	aeads    map[string]cipher.AEAD
	insecure bool
}

// ParseKeyring parses a master keyring spec: "kid:base64key[,kid:base64key...]".
// Each kid matches [A-Za-z0-9_-]{1,32} and is unique; each key is standard
// (padded) base64 of exactly MasterKeyBytes bytes. Spaces around entries are
// ignored. The first entry is the primary key.
//
// An empty spec returns an error wrapping ErrNoMasterKey; any other problem
// wraps ErrInvalidKeyring and names the entry by its 1-based position (and
// its kid when the kid is valid). Errors never contain key material, not
// even a malformed key.
func ParseKeyring(spec string) (*Keyring, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("secrets: empty keyring spec: %w", ErrNoMasterKey)
	}
	k := &Keyring{aeads: make(map[string]cipher.AEAD)}
	devKey, _ := base64.StdEncoding.DecodeString(devKeyBase64)
	for i, entry := range strings.Split(spec, ",") {
		kid, key, err := parseKeyringEntry(strings.TrimSpace(entry))
		if err != nil {
			return nil, fmt.Errorf("secrets: keyring entry %d: %w: %w", i+1, err, ErrInvalidKeyring)
		}
		if _, dup := k.aeads[kid]; dup {
			return nil, fmt.Errorf("secrets: keyring entry %d: duplicate key id %q: %w", i+1, kid, ErrInvalidKeyring)
		}
		if i == 0 && subtle.ConstantTimeCompare(key, devKey) == 1 {
			k.insecure = true
		}
		aead, err := newAEAD(key)
		clear(key)
		if err != nil {
			return nil, fmt.Errorf("secrets: keyring entry %d (key id %q): %w: %w", i+1, kid, err, ErrInvalidKeyring)
		}
		k.add(kid, aead)
	}
	return k, nil
}

// parseKeyringEntry splits and checks one "kid:base64key" entry. Its errors
// describe the problem without echoing the entry.
func parseKeyringEntry(entry string) (string, []byte, error) {
	kid, b64, ok := strings.Cut(entry, ":")
	switch {
	case entry == "":
		return "", nil, errors.New("empty entry")
	case !ok:
		return "", nil, errors.New("missing ':' between key id and key")
	case !validKeyID(kid):
		return "", nil, fmt.Errorf("key id must match [A-Za-z0-9_-]{1,%d}", maxKeyIDLen)
	}
	key, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return "", nil, fmt.Errorf("key id %q: key is not valid standard base64", kid)
	}
	if len(key) != MasterKeyBytes {
		clear(key)
		return "", nil, fmt.Errorf("key id %q: key is %d bytes after base64 decoding, want %d",
			kid, len(key), MasterKeyBytes)
	}
	return kid, key, nil
}

// DevKeyring returns a keyring holding one fixed, publicly known key with
// key id DevKeyID ("dev-insecure").
//
// NOT SECRET. The key is written in this package's source code: anyone can
// decrypt whatever is encrypted under it. It exists only for the explicit
// local/dev mode (the quickstart on a laptop), where it is better than
// storing secrets in plaintext and keeps the record format identical.
// Callers must log loudly when they use it (see Insecure) and must never use
// it in production.
func DevKeyring() *Keyring {
	key, _ := base64.StdEncoding.DecodeString(devKeyBase64)
	aead, err := newAEAD(key)
	if err != nil {
		panic("secrets: dev key: " + err.Error()) // unreachable: the constant is 32 bytes
	}
	k := &Keyring{aeads: make(map[string]cipher.AEAD), insecure: true}
	k.add(DevKeyID, aead)
	return k
}

// Insecure reports whether the primary key is the publicly known dev key
// (DevKeyring, or a parsed spec whose first key is that key): secrets
// encrypted now are not protected at rest. A keyring that only decrypts with
// the dev key (a secondary entry, while migrating away from it) is not
// reported.
func (k *Keyring) Insecure() bool { return k != nil && k.insecure }

// PrimaryID returns the key id that encrypts new secrets.
func (k *Keyring) PrimaryID() string { return k.primary }

// KeyIDs returns the key ids, primary first. The slice is a copy.
func (k *Keyring) KeyIDs() []string { return append([]string(nil), k.ids...) }

// String returns "keyring[k2(primary),k1]": key ids only, safe to log.
func (k *Keyring) String() string {
	if k == nil {
		return "keyring[]"
	}
	var b strings.Builder
	b.WriteString("keyring[")
	for i, id := range k.ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(id)
		if i == 0 {
			b.WriteString("(primary)")
		}
	}
	if k.insecure {
		b.WriteString(" INSECURE-DEV-KEY")
	}
	b.WriteByte(']')
	return b.String()
}

// GoString makes %#v print the same as String, never the ciphers' state.
func (k *Keyring) GoString() string { return k.String() }

func (k *Keyring) add(kid string, aead cipher.AEAD) {
	if len(k.ids) == 0 {
		k.primary = kid
	}
	k.ids = append(k.ids, kid)
	k.aeads[kid] = aead
}

// sealed is one encrypted secret as stored in a record entry.
type sealed struct {
	keyID      string
	nonce      []byte
	ciphertext []byte
}

// seal encrypts plaintext under the primary key with a fresh nonce read from
// random (crypto/rand.Reader when nil), binding it to orgID and secretID.
func (k *Keyring) seal(random io.Reader, orgID, secretID string, plaintext []byte) (sealed, error) {
	if k == nil || k.primary == "" {
		return sealed{}, ErrNoMasterKey
	}
	if random == nil {
		random = rand.Reader
	}
	nonce := make([]byte, NonceBytes)
	if _, err := io.ReadFull(random, nonce); err != nil {
		return sealed{}, fmt.Errorf("secrets: read %d nonce bytes: %w", NonceBytes, err)
	}
	ct := k.aeads[k.primary].Seal(nil, nonce, plaintext, additionalData(orgID, secretID))
	return sealed{keyID: k.primary, nonce: nonce, ciphertext: ct}, nil
}

// open decrypts s, checking that it was sealed for orgID and secretID. Errors
// wrap ErrNoMasterKey, ErrUnknownKeyID or ErrDecrypt.
func (k *Keyring) open(orgID, secretID string, s sealed) ([]byte, error) {
	if k == nil || k.primary == "" {
		return nil, ErrNoMasterKey
	}
	aead, ok := k.aeads[s.keyID]
	if !ok {
		return nil, fmt.Errorf("key id %q: %w", s.keyID, ErrUnknownKeyID)
	}
	if len(s.nonce) != NonceBytes {
		return nil, fmt.Errorf("nonce is %d bytes, want %d: %w", len(s.nonce), NonceBytes, ErrDecrypt)
	}
	pt, err := aead.Open(nil, s.nonce, s.ciphertext, additionalData(orgID, secretID))
	if err != nil {
		return nil, fmt.Errorf("key id %q: %w", s.keyID, ErrDecrypt)
	}
	return pt, nil
}

func additionalData(orgID, secretID string) []byte {
	return []byte(aadPrefix + orgID + "\x00" + secretID)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	return cipher.NewGCM(block)
}

// validKeyID reports whether kid matches [A-Za-z0-9_-]{1,32}.
func validKeyID(kid string) bool { return validToken(kid, maxKeyIDLen) }

// validToken reports whether s is 1..maxLen characters of [A-Za-z0-9_-].
func validToken(s string, maxLen int) bool {
	if len(s) == 0 || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
