package sign

import "errors"

// Sentinel errors. Functions in this package wrap them with context using
// %w; compare with errors.Is, never by message.
var (
	// ErrMissingHeader means the Sixtyfour-Signature header value was empty
	// or absent. An unsigned delivery is only legitimate for an
	// organization that has no signing secret.
	ErrMissingHeader = errors.New("sign: missing signature header")

	// ErrMalformedHeader means the header could not be parsed: an empty
	// segment, a segment without '=', no t, a duplicate t, a t that is not a
	// decimal integer, or no v1 segment.
	ErrMalformedHeader = errors.New("sign: malformed signature header")

	// ErrTimestampOutOfTolerance means |now - t| exceeded the tolerance, in
	// either direction (a stale replay or a clock far in the future).
	ErrTimestampOutOfTolerance = errors.New("sign: timestamp outside tolerance")

	// ErrNoMatchingSignature means no v1 in the header equals the signature
	// computed with any of the verifier's secrets (tampered body, wrong or
	// rotated-out secret), or that no secret was configured at all.
	ErrNoMatchingSignature = errors.New("sign: no matching signature")

	// ErrInvalidSecret means a string is not a well-formed signing secret:
	// SecretPrefix followed by exactly 64 lowercase hex characters.
	ErrInvalidSecret = errors.New("sign: invalid signing secret")
)
