package retry

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// ErrInvalidPolicy is wrapped by every error from [Policy.Validate]; test for
// it with errors.Is. Schedule problems wrap [ErrInvalidSchedule] as well.
var ErrInvalidPolicy = errors.New("invalid retry policy")

// Action is what the caller does with the message after an attempt.
type Action int

const (
	// ActionDeliver: the attempt succeeded. JetStream: Ack.
	ActionDeliver Action = iota + 1
	// ActionRetry: try again after Decision.Delay. JetStream:
	// NakWithDelay(Delay), never a plain Nak.
	ActionRetry
	// ActionDeadLetter: give up (attempts exhausted or a terminal failure).
	// JetStream: publish to the undelivered stream, await its ack, then Term;
	// if the publish fails, do not Term.
	ActionDeadLetter
)

// String returns the Action's stable name, for logs and records:
// "delivered", "retry", "dead_letter"; "Action(n)" for any other value.
func (a Action) String() string {
	switch a {
	case ActionDeliver:
		return "delivered"
	case ActionRetry:
		return "retry"
	case ActionDeadLetter:
		return "dead_letter"
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// Decision is the result of [Policy.Decide].
type Decision struct {
	// Action is what to do next; never zero.
	Action Action
	// Delay is the wait before the next attempt, jitter applied. It is
	// greater than 0 for ActionRetry and 0 otherwise.
	Delay time.Duration
	// Reason describes the failure for logs and the undelivered record, for
	// example "HTTP 503", "timeout", "attempts exhausted after 6 attempts:
	// HTTP 500" or "destination refused: <detail>". Empty for ActionDeliver.
	Reason string
	// DelayFrom says where Delay comes from (ActionRetry only): the
	// schedule, the receiver's Retry-After, or the Retry-After cap.
	DelayFrom DelaySource
}

// DelaySource says what set a retry's delay.
type DelaySource string

// The sources of a retry delay, as recorded on the attempt record.
const (
	// DelayFromSchedule: the schedule's delay (jittered); a Retry-After, if
	// any, asked for less.
	DelayFromSchedule DelaySource = "schedule"
	// DelayFromRetryAfter: the receiver's Retry-After, longer than the
	// schedule's delay and within the cap.
	DelayFromRetryAfter DelaySource = "retry_after"
	// DelayFromRetryAfterCap: the receiver asked for more than
	// Policy.RetryAfterCap; the cap was used.
	DelayFromRetryAfterCap DelaySource = "retry_after_cap"
)

// DefaultRetryAfterCap is the longest wait a Retry-After header can impose
// when Policy.RetryAfterCap is 0.
const DefaultRetryAfterCap = 60 * time.Second

// Policy decides what follows each attempt. The zero value is not usable
// (it has no schedule, so every failure is dead-lettered at once): use
// [NewPolicy], or fill Schedule and call [Policy.Validate] once at startup.
// A Policy is a value; Decide is safe for concurrent use when Rand is.
type Policy struct {
	// Schedule holds the waits between attempts and so the number of
	// attempts. Required; [NewPolicy] uses [Default].
	Schedule Schedule
	// Jitter is a fraction in [0, 1): each delay is scaled by a factor drawn
	// uniformly from [1-Jitter, 1+Jitter). Defaults to 0: exact delays.
	Jitter float64
	// Rand returns a number in [0, 1), like math/rand/v2's Float64, which is
	// safe for concurrent use (a *rand.Rand is not). Required when Jitter > 0;
	// unused otherwise. It is injected so that tests are deterministic.
	Rand func() float64
	// RetryAfterCap bounds the wait a receiver's Retry-After may impose
	// (see Decide), at most MaxDelay. Zero means DefaultRetryAfterCap (60 s).
	RetryAfterCap time.Duration
}

// NewPolicy returns the default policy: the [Default] schedule (6 attempts,
// gaps 1s, 2s, 4s, 8s, 16s) and no jitter. It is valid.
func NewPolicy() Policy {
	return Policy{Schedule: Default()}
}

// Validate reports whether p is usable. It returns an error wrapping
// [ErrInvalidPolicy] (and [ErrInvalidSchedule] for schedule problems) that
// names the field: the Schedule is invalid, Jitter is not in [0, 1) (NaN
// included), or Jitter > 0 and Rand is nil.
func (p Policy) Validate() error {
	if err := p.Schedule.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPolicy, err)
	}
	if !(p.Jitter >= 0 && p.Jitter < 1) {
		return fmt.Errorf("%w: Jitter = %v, want a fraction in [0, 1)", ErrInvalidPolicy, p.Jitter)
	}
	if p.Jitter > 0 && p.Rand == nil {
		return fmt.Errorf("%w: Rand is nil, want a source of [0, 1) when Jitter > 0", ErrInvalidPolicy)
	}
	if p.RetryAfterCap < 0 || p.RetryAfterCap > MaxDelay {
		return fmt.Errorf("%w: RetryAfterCap = %s, want 0 (the default, %s) up to %s", ErrInvalidPolicy, p.RetryAfterCap, DefaultRetryAfterCap, MaxDelay)
	}
	return nil
}

// Decide returns what follows attempt number attempt (1-based: the attempt
// that just finished, 1 for the first) given its outcome o:
//
//   - a 2xx response: ActionDeliver, whatever the attempt;
//   - KindRefused or KindInvalidRequest: ActionDeadLetter at once, with the
//     outcome as the reason;
//   - any other outcome (1xx, 3xx, 4xx, 5xx, timeout, connection, TLS,
//     signing unavailable, and as a safe default an unknown Kind or a zero
//     Outcome): ActionRetry with Delay = Schedule[attempt-1], jittered, while
//     attempt < MaxAttempts; otherwise ActionDeadLetter with the reason
//     "attempts exhausted after N attempts: <last reason>".
//
// A 429 or 503 response whose Outcome.RetryAfter is greater than 0 retries
// after max(schedule delay, min(RetryAfter, RetryAfterCap)) instead; it
// does not add an attempt, and Decision.DelayFrom says which one won.
//
// An attempt below 1 is treated as 1; one above MaxAttempts is exhausted.
//
// Decide never panics and expects a Policy that passed Validate. Given an
// invalid one it still answers: invalid jitter settings (or a nil Rand) mean
// exact delays, a Rand result outside [0, 1) is clamped into it, and a
// schedule entry that is not greater than 0 dead-letters the event with a
// reason naming it, because there is no safe delay to retry with.
func (p Policy) Decide(attempt int, o Outcome) Decision {
	attempt = max(attempt, 1)
	if o.succeeded() {
		return Decision{Action: ActionDeliver}
	}
	reason := o.reason()
	if o.terminal() {
		return Decision{Action: ActionDeadLetter, Reason: reason}
	}
	base, ok := p.Schedule.Delay(attempt)
	if !ok {
		return Decision{Action: ActionDeadLetter, Reason: exhausted(attempt, reason)}
	}
	if base <= 0 {
		return Decision{Action: ActionDeadLetter, Reason: fmt.Sprintf(
			"%v: Schedule[%d] = %s, want > 0 (after attempt %d: %s)",
			ErrInvalidPolicy, attempt-1, base, attempt, reason)}
	}
	d := Decision{Action: ActionRetry, Delay: p.jittered(base), Reason: reason, DelayFrom: DelayFromSchedule}
	if o.honoursRetryAfter() {
		limit := p.RetryAfterCap
		if limit <= 0 || limit > MaxDelay {
			limit = DefaultRetryAfterCap
		}
		asked, from := o.RetryAfter, DelayFromRetryAfter
		if asked > limit {
			asked, from = limit, DelayFromRetryAfterCap
		}
		if asked > d.Delay {
			d.Delay, d.DelayFrom = asked, from
		}
	}
	return d
}

// exhausted is the dead-letter reason once the schedule has no retry left.
func exhausted(attempts int, reason string) string {
	noun := "attempts"
	if attempts == 1 {
		noun = "attempt"
	}
	return fmt.Sprintf("attempts exhausted after %d %s: %s", attempts, noun, reason)
}

// jittered scales d (> 0) by a factor drawn uniformly from
// [1-Jitter, 1+Jitter), rounding to the nearest nanosecond. The result is at
// least 1ns and never overflows. Without usable jitter settings it is d.
func (p Policy) jittered(d time.Duration) time.Duration {
	if !(p.Jitter > 0 && p.Jitter < 1) || p.Rand == nil {
		return d
	}
	r := p.Rand()
	switch {
	case !(r >= 0): // negative or NaN
		r = 0
	case r >= 1:
		r = math.Nextafter(1, 0)
	}
	// 1 + J*(2r-1) is exactly 1 for r = 0.5 and 1-J for r = 0.
	scaled := math.Round(float64(d) * (1 + p.Jitter*(2*r-1)))
	switch {
	case scaled >= math.MaxInt64:
		return time.Duration(math.MaxInt64)
	case scaled < 1:
		return 1
	}
	return time.Duration(scaled)
}
