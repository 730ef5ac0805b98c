// Package sign owns the Sixtyfour-Signature wire format: signing secrets
// (generation, validation, masked previews), computing the HMAC-SHA256
// signature of one delivery, building the header value and verifying it on
// the receiving side.
//
// The format is the one Stripe uses:
//
//	Sixtyfour-Signature: t=<unix_seconds>,v1=<hex>[,v1=<hex>]
//
// where each v1 is the lowercase hex HMAC-SHA256 of "<t>.<raw body>", keyed
// with the UTF-8 bytes of the whole secret string (the "sk_whsec_" prefix
// included; the secret is not hex-decoded). During a secret rotation a
// delivery carries two v1 segments: the new secret's first, the old one's
// second. Verifiers parse t and every v1 (never into a map, which would drop
// the second v1), reject timestamps more than DefaultTolerance away from
// their clock in either direction, and accept if any v1 matches any of their
// secrets.
//
// The package is pure: it imports only the standard library, performs no I/O
// except reading the io.Reader handed to GenerateSecret, and never reads the
// clock. Callers pass the time, the secrets and the exact body bytes that go
// on (or came off) the wire. Every attempt must be signed afresh with a new
// t, because receivers reject timestamps older than five minutes.
package sign
