package sign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// HeaderName is the HTTP header that carries the signature.
const HeaderName = "Sixtyfour-Signature"

const (
	// macHexLen is the length of one hex-encoded HMAC-SHA256.
	macHexLen = 2 * sha256.Size
	// maxInt64Digits is the number of decimal digits in math.MaxInt64.
	maxInt64Digits = 19
)

// Compute returns the lowercase hex HMAC-SHA256 (64 characters) of the
// message "<t>.<body>", keyed with the UTF-8 bytes of secret. t is Unix
// seconds, written in decimal; body must be the exact bytes sent. Compute
// cannot fail; it does not validate secret (see ValidateSecret).
func Compute(secret string, t int64, body []byte) string {
	var out [macHexLen]byte
	return string(appendMAC(out[:0], secret, t, body))
}

// Header returns the Sixtyfour-Signature header value for one attempt:
// "t=<t>,v1=<hex>" with one v1 segment per secret, in the order given. During
// a rotation pass the new secret first and the old one second. t is Unix
// seconds and should be the send time of this attempt. Header returns "" when
// no secrets are given (an unsigned delivery). It does not limit the number
// of secrets (callers pass at most two) and does not validate them.
func Header(t int64, body []byte, secrets ...string) string {
	if len(secrets) == 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(len("t=") + maxInt64Digits + 1 + len(secrets)*(len(",v1=")+macHexLen))
	var buf [len(",v1=") + macHexLen]byte
	b.Write(strconv.AppendInt(append(buf[:0], "t="...), t, 10))
	for _, secret := range secrets {
		b.Write(appendMAC(append(buf[:0], ",v1="...), secret, t, body))
	}
	return b.String()
}

// scratchLen bytes hold either the message prefix "<t>." (at most a sign,
// 19 digits and '.': 21 bytes) or a raw SHA-256 sum (32 bytes).
const scratchLen = sha256.Size

// appendMAC appends Compute(secret, t, body) to dst without allocating the
// message: "<t>." and body are written into the HMAC one after the other.
// dst should have room for macHexLen more bytes.
//
// Buffers handed to hash.Hash methods escape to the heap, so the key copy and
// the scratch space share one allocation; hmac.New allocates the rest.
func appendMAC(dst []byte, secret string, t int64, body []byte) []byte {
	buf := make([]byte, len(secret)+scratchLen)
	key := buf[:copy(buf, secret):len(secret)]
	scratch := buf[len(secret):]

	mac := hmac.New(sha256.New, key)
	mac.Write(append(strconv.AppendInt(scratch[:0], t, 10), '.'))
	mac.Write(body)
	sum := mac.Sum(scratch[:0])

	n := len(dst)
	dst = slices.Grow(dst, macHexLen)[:n+macHexLen]
	hex.Encode(dst[n:], sum)
	return dst
}
