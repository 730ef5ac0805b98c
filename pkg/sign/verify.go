package sign

import (
	"bytes"
	"crypto/hmac"
	"fmt"
	"math"
	"time"
)

// DefaultTolerance is the largest accepted distance between a signature's t
// and the verifier's clock, in either direction. Verify uses it when given a
// tolerance <= 0.
const DefaultTolerance = 300 * time.Second

// Verify checks a Sixtyfour-Signature header value against the raw request
// body. It returns nil if the timestamp is within tolerance of now and at
// least one v1 segment equals Compute(secret, t, body) for at least one of
// secrets.
//
// body must be the exact bytes received, before any JSON parsing. secrets
// holds the receiver's current secret and, during a rotation, the previous
// one; order does not matter and empty strings are ignored. now is the
// receiver's clock (time.Now() in production); it is compared with t in
// whole Unix seconds (now truncated by Unix, tolerance truncated to whole
// seconds). tolerance <= 0 means DefaultTolerance; a distance of exactly
// tolerance is accepted.
//
// Parsing: segments are split on ',' and each on its first '='. No trimming
// is done. "t" must appear once, as decimal digits with an optional leading
// '-' that fit an int64 (anything Header produces); every "v1" is collected;
// other keys (such as "v0") are ignored. Signatures are compared as
// lowercase hex with hmac.Equal, so an uppercase v1 does not match.
//
// Errors, checked in this order and wrapped with context:
//   - ErrMissingHeader: header is "".
//   - ErrMalformedHeader: an empty segment, a segment without '=', no t,
//     a duplicate t, a t that is not a decimal integer, or no v1.
//   - ErrTimestampOutOfTolerance: |now - t| > tolerance.
//   - ErrNoMatchingSignature: no non-empty secret was given, or no v1
//     matched any secret.
func Verify(header string, body []byte, secrets []string, now time.Time, tolerance time.Duration) error {
	if header == "" {
		return fmt.Errorf("%s is empty: %w", HeaderName, ErrMissingHeader)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	h := []byte(header) // one copy, so each v1 is a []byte for hmac.Equal
	var sigsBuf [4][]byte
	t, sigs, err := parseHeader(h, sigsBuf[:0])
	if err != nil {
		return err
	}
	nowSec, tolSec := now.Unix(), int64(tolerance/time.Second)
	if !withinTolerance(t, nowSec, tolSec) {
		return fmt.Errorf("t=%d is %s from now (%d), tolerance %s: %w",
			t, direction(t, nowSec), nowSec, tolerance, ErrTimestampOutOfTolerance)
	}
	tried := 0
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		tried++
		var want [macHexLen]byte
		appendMAC(want[:0], secret, t, body)
		for _, sig := range sigs {
			if hmac.Equal(want[:], sig) {
				return nil
			}
		}
	}
	if tried == 0 {
		return fmt.Errorf("no secrets configured: %w", ErrNoMatchingSignature)
	}
	return fmt.Errorf("none of %d v1 signatures matches any of %d secrets: %w",
		len(sigs), tried, ErrNoMatchingSignature)
}

// parseHeader reads t and every v1 value from h, appending the v1 values
// (sub-slices of h) to sigs. Errors wrap ErrMalformedHeader and name the
// segment by position, never by content.
func parseHeader(h []byte, sigs [][]byte) (t int64, _ [][]byte, _ error) {
	seenT := false
	for i := 1; ; i++ {
		seg, rest, more := bytes.Cut(h, []byte{','})
		if len(seg) == 0 {
			return 0, nil, fmt.Errorf("segment %d is empty: %w", i, ErrMalformedHeader)
		}
		key, value, ok := bytes.Cut(seg, []byte{'='})
		if !ok {
			return 0, nil, fmt.Errorf("segment %d has no '=': %w", i, ErrMalformedHeader)
		}
		switch string(key) {
		case "t":
			if seenT {
				return 0, nil, fmt.Errorf("segment %d repeats t: %w", i, ErrMalformedHeader)
			}
			seenT = true
			var err error
			if t, err = parseUnixSeconds(value); err != nil {
				return 0, nil, fmt.Errorf("segment %d: %w", i, err)
			}
		case "v1":
			sigs = append(sigs, value)
		}
		if !more {
			break
		}
		h = rest
	}
	if !seenT {
		return 0, nil, fmt.Errorf("no t segment: %w", ErrMalformedHeader)
	}
	if len(sigs) == 0 {
		return 0, nil, fmt.Errorf("no v1 segment: %w", ErrMalformedHeader)
	}
	return t, sigs, nil
}

// parseUnixSeconds accepts an optional '-' and 1 to 19 ASCII digits that fit
// an int64 (so every header Header makes parses): no '+', no spaces, no
// underscores, so every verifier implementation agrees on what is valid.
func parseUnixSeconds(v []byte) (int64, error) {
	digits, negative := bytes.CutPrefix(v, []byte{'-'})
	if len(digits) == 0 || len(digits) > maxInt64Digits {
		return 0, fmt.Errorf("t has %d digits, want 1 to %d: %w",
			len(digits), maxInt64Digits, ErrMalformedHeader)
	}
	var mag uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("t is not a decimal integer: %w", ErrMalformedHeader)
		}
		mag = mag*10 + uint64(c-'0') // 19 digits cannot overflow a uint64
	}
	switch {
	case !negative && mag <= math.MaxInt64:
		return int64(mag), nil
	case negative && mag <= 1<<63:
		return int64(-mag), nil // two's complement: -(1<<63) wraps to MinInt64
	}
	return 0, fmt.Errorf("t does not fit in int64: %w", ErrMalformedHeader)
}

// withinTolerance reports whether |now - t| <= tol without overflowing: the
// difference of two int64s always fits in a uint64 when taken larger minus
// smaller.
func withinTolerance(t, now, tol int64) bool {
	if t > now {
		return uint64(t)-uint64(now) <= uint64(tol)
	}
	return uint64(now)-uint64(t) <= uint64(tol)
}

// direction describes where t lies relative to now, for error messages.
func direction(t, now int64) string {
	if t > now {
		return fmt.Sprintf("%ds ahead", uint64(t)-uint64(now))
	}
	return fmt.Sprintf("%ds behind", uint64(now)-uint64(t))
}
