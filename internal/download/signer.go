package download

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults and limits of signed URLs.
const (
	// DefaultTTL is how long a signed URL stays valid when Signer.TTL is
	// zero: 900 s, the product's download_expires_in_seconds.
	DefaultTTL = 900 * time.Second
	// MinKeyLength is the shortest accepted HMAC key, in bytes.
	MinKeyLength = 32
	// PathPrefix is the path under which the download server serves
	// objects: a URL's path is PathPrefix followed by the escaped key.
	PathPrefix = "/v1/downloads/"
)

var (
	// ErrExpired means the URL's signature is valid but its exp has passed.
	ErrExpired = errors.New("download link expired")
	// ErrBadSignature means sig is not the server's signature of this key
	// and exp: the URL was altered or signed with another key.
	ErrBadSignature = errors.New("download link signature does not match")
	// ErrMalformed means the URL lacks a key, or exp or sig is not in the
	// expected form (decimal unix seconds; 64 hex digits).
	ErrMalformed = errors.New("malformed download link")
	// ErrInvalidSigner wraps every configuration error of a Signer or a
	// key spec: a key shorter than MinKeyLength, a bad BaseURL, a negative
	// TTL. Its message names the field, never the key.
	ErrInvalidSigner = errors.New("invalid download signer")
)

// Signer signs and verifies download URLs. The zero TTL and Now take their
// defaults; Key and BaseURL are required (Validate). A Signer is a value:
// safe for concurrent use as long as Key is not modified.
type Signer struct {
	// Key is the HMAC-SHA256 key: at least MinKeyLength random bytes, the
	// same on every deliverer (which signs) and download server (which
	// verifies). It is never sent to receivers and never logged.
	Key []byte
	// BaseURL is the public base of the download server, such as
	// "https://downloads.example.com" (a path prefix is allowed; a trailing
	// slash is ignored). Only URL uses it.
	BaseURL string
	// TTL is how long a URL is valid after signing, rounded up to whole
	// seconds. Defaults to DefaultTTL (900 s).
	TTL time.Duration
	// Now is the clock Handler verifies against. Defaults to time.Now. URL
	// and Verify are given the time explicitly.
	Now func() time.Time
}

// Validate checks a Signer that signs URLs: Key of at least MinKeyLength
// bytes, an absolute http(s) BaseURL without query, fragment or userinfo,
// and a TTL >= 0. Errors wrap ErrInvalidSigner and name the field.
func (s Signer) Validate() error {
	if err := s.checkKey(); err != nil {
		return err
	}
	if s.TTL < 0 {
		return fmt.Errorf("%w: TTL = %v, want >= 0", ErrInvalidSigner, s.TTL)
	}
	u, err := url.Parse(s.BaseURL)
	switch {
	case s.BaseURL == "":
		return fmt.Errorf("%w: BaseURL is required", ErrInvalidSigner)
	case err != nil:
		return fmt.Errorf("%w: BaseURL: %v", ErrInvalidSigner, err)
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return fmt.Errorf("%w: BaseURL %q must be an absolute http(s) URL", ErrInvalidSigner, s.BaseURL)
	case u.User != nil, u.RawQuery != "", u.Fragment != "", strings.ContainsAny(s.BaseURL, "?#"):
		return fmt.Errorf("%w: BaseURL %q must not have userinfo, a query or a fragment", ErrInvalidSigner, s.BaseURL)
	}
	return nil
}

func (s Signer) checkKey() error {
	if len(s.Key) < MinKeyLength {
		return fmt.Errorf("%w: Key is %d bytes, want at least %d", ErrInvalidSigner, len(s.Key), MinKeyLength)
	}
	return nil
}

// ttlSeconds is the TTL in whole seconds, rounded up; DefaultTTL when zero.
func (s Signer) ttlSeconds() int64 {
	ttl := s.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return int64((ttl + time.Second - 1) / time.Second)
}

// URL returns the signed download URL of objectKey, valid from now until
// exp = now (unix seconds) + TTL:
//
//	<BaseURL>/v1/downloads/<key, each segment path-escaped>?exp=<unix>&sig=<hex HMAC-SHA256(Key, "v1\n"+key+"\n"+exp)>
//
// Keys from CSVKey and RowsKey are always servable; other keys must not
// have empty, "." or ".." segments (an http.ServeMux would redirect them).
// A Signer that fails Validate makes URLs that Verify refuses.
func (s Signer) URL(objectKey string, now time.Time) string {
	exp := strconv.FormatInt(now.Unix()+s.ttlSeconds(), 10)
	segments := strings.Split(objectKey, "/")
	for i, seg := range segments {
		segments[i] = url.PathEscape(seg)
	}
	return strings.TrimRight(s.BaseURL, "/") + PathPrefix + strings.Join(segments, "/") +
		"?exp=" + exp + "&sig=" + hex.EncodeToString(s.mac(objectKey, exp))
}

// mac is HMAC-SHA256(Key, "v1\n"+key+"\n"+exp). exp is digits only, so the
// message is unambiguous whatever the key holds.
func (s Signer) mac(objectKey, exp string) []byte {
	h := hmac.New(sha256.New, s.Key)
	h.Write([]byte("v1\n"))
	h.Write([]byte(objectKey))
	h.Write([]byte("\n"))
	h.Write([]byte(exp))
	return h.Sum(nil)
}

// Verify checks a URL's parts at time now: objectKey is the unescaped key,
// exp and sig the query values. In order, it returns an error wrapping
// ErrInvalidSigner when Key is too short (fail closed), ErrMalformed for an
// empty key, a non-decimal exp or a sig that is not 64 hex digits,
// ErrBadSignature when sig does not match (compared in constant time), and
// ErrExpired when the signature matches but now is after exp. The signature
// is checked before the expiry, so an altered exp is a bad signature.
func (s Signer) Verify(objectKey string, exp string, sig string, now time.Time) error {
	if err := s.checkKey(); err != nil {
		return err
	}
	if objectKey == "" {
		return fmt.Errorf("%w: no object key", ErrMalformed)
	}
	expires, ok := parseUnix(exp)
	if !ok {
		return fmt.Errorf("%w: exp must be unix seconds", ErrMalformed)
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: sig must be %d hex digits", ErrMalformed, 2*sha256.Size)
	}
	if !hmac.Equal(got, s.mac(objectKey, exp)) {
		return ErrBadSignature
	}
	if now.Unix() > expires {
		return fmt.Errorf("%w at %s", ErrExpired, time.Unix(expires, 0).UTC().Format(time.RFC3339))
	}
	return nil
}

// parseUnix parses 1..18 ASCII digits (no sign, no spaces), so the signed
// text and the parsed value cannot disagree.
func parseUnix(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// ParseKey decodes a signing key from its configuration form: base64
// (standard or URL alphabet, padded or not; surrounding spaces ignored) of
// at least MinKeyLength bytes. Generate one with `openssl rand -base64 32`.
// Errors wrap ErrInvalidSigner and never include the key.
func ParseKey(spec string) ([]byte, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("%w: empty key", ErrInvalidSigner)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		key, err := enc.DecodeString(spec)
		if err != nil {
			continue
		}
		if len(key) < MinKeyLength {
			return nil, fmt.Errorf("%w: key is %d bytes, want at least %d", ErrInvalidSigner, len(key), MinKeyLength)
		}
		return key, nil
	}
	return nil, fmt.Errorf("%w: key is not base64", ErrInvalidSigner)
}
