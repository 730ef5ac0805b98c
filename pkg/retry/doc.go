// Package retry owns the delivery retry schedule and the one decision "what
// happens after this attempt".
//
// A [Schedule] is data: the list of waits between attempts. A [Policy] adds
// optional jitter and decides, in the pure function [Policy.Decide], what the
// (attempt number, [Outcome]) pair means: delivered, retry after a delay, or
// dead letter. The package has no clock, does no I/O and holds no mutable
// package-level state; randomness for jitter is injected through
// [Policy.Rand], so tests are deterministic.
//
// The defaults follow the delivery contract: 6 attempts (1 first attempt + 5
// retries) with gaps of 1s, 2s, 4s, 8s and 16s and no jitter. Success is any
// 2xx response; every other response (3xx included: redirects are never
// followed), timeouts, connection, TLS and signing-secret failures are
// retried; a destination refused by the SSRF policy and an undecodable
// delivery request are terminal.
//
// Callers map a [Decision] to JetStream acknowledgements in exactly one
// switch:
//
//   - [ActionDeliver]: Ack.
//   - [ActionRetry]: NakWithDelay(Decision.Delay). Never a plain Nak: it
//     redelivers at once and burns every attempt in milliseconds. The consumer
//     must have no BackOff list, or the server adds its own delays to ours.
//   - [ActionDeadLetter]: publish to the undelivered stream, await the publish
//     ack, then Term. If the publish fails, do not Term: the message stays
//     pending and is redelivered.
//
// The consumer's MaxDeliver should equal [Schedule.MaxAttempts], so that the
// attempt number JetStream reports and the one this package decides on agree.
//
// This package must not import NATS, HTTP or logging packages: it is the
// policy, not the machinery.
package retry
