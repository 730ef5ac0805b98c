package retry

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"
)

// class is how the delivery contract classifies an outcome.
type class int

const (
	success   class = iota + 1 // delivered at any attempt
	retryable                  // retried until the schedule runs out
	terminal                   // dead-lettered at once
)

var errRefused = errors.New("address 10.0.0.1 is private")

var outcomeCases = []struct {
	name       string
	outcome    Outcome
	class      class
	wantReason string // the reason of a failed attempt, before any "attempts exhausted" prefix
}{
	{"200", Outcome{Kind: KindResponse, StatusCode: 200}, success, ""},
	{"201", Outcome{Kind: KindResponse, StatusCode: 201}, success, ""},
	{"204", Outcome{Kind: KindResponse, StatusCode: 204}, success, ""},
	{"299", Outcome{Kind: KindResponse, StatusCode: 299}, success, ""},
	{"2xx with error detail", Outcome{Kind: KindResponse, StatusCode: 200, Err: errors.New("body read")}, success, ""},
	{"100", Outcome{Kind: KindResponse, StatusCode: 100}, retryable, "HTTP 100"},
	{"199", Outcome{Kind: KindResponse, StatusCode: 199}, retryable, "HTTP 199"},
	{"300", Outcome{Kind: KindResponse, StatusCode: 300}, retryable, "HTTP 300 (redirects are not followed)"},
	{"301", Outcome{Kind: KindResponse, StatusCode: 301}, retryable, "HTTP 301 (redirects are not followed)"},
	{"302", Outcome{Kind: KindResponse, StatusCode: 302}, retryable, "HTTP 302 (redirects are not followed)"},
	{"307", Outcome{Kind: KindResponse, StatusCode: 307}, retryable, "HTTP 307 (redirects are not followed)"},
	{"308", Outcome{Kind: KindResponse, StatusCode: 308}, retryable, "HTTP 308 (redirects are not followed)"},
	{"400", Outcome{Kind: KindResponse, StatusCode: 400}, retryable, "HTTP 400"},
	{"401", Outcome{Kind: KindResponse, StatusCode: 401}, retryable, "HTTP 401"},
	{"404", Outcome{Kind: KindResponse, StatusCode: 404}, retryable, "HTTP 404"},
	{"410", Outcome{Kind: KindResponse, StatusCode: 410}, retryable, "HTTP 410"},
	{"429", Outcome{Kind: KindResponse, StatusCode: 429}, retryable, "HTTP 429"},
	{"500", Outcome{Kind: KindResponse, StatusCode: 500}, retryable, "HTTP 500"},
	{"502", Outcome{Kind: KindResponse, StatusCode: 502}, retryable, "HTTP 502"},
	{"503", Outcome{Kind: KindResponse, StatusCode: 503}, retryable, "HTTP 503"},
	{"504", Outcome{Kind: KindResponse, StatusCode: 504}, retryable, "HTTP 504"},
	{"503 with detail", Outcome{Kind: KindResponse, StatusCode: 503, Err: errors.New("maintenance")}, retryable, "HTTP 503: maintenance"},
	{"status 0", Outcome{Kind: KindResponse}, retryable, "HTTP 0"},
	{"status 600", Outcome{Kind: KindResponse, StatusCode: 600}, retryable, "HTTP 600"},
	{"timeout", Outcome{Kind: KindTimeout}, retryable, "timeout"},
	{"timeout with detail", Outcome{Kind: KindTimeout, Err: errors.New("context deadline exceeded")}, retryable, "timeout: context deadline exceeded"},
	{"connection", Outcome{Kind: KindConnection, Err: errors.New("dial tcp: connection refused")}, retryable, "connection error: dial tcp: connection refused"},
	{"tls", Outcome{Kind: KindTLS, Err: errors.New("x509: certificate has expired")}, retryable, "TLS error: x509: certificate has expired"},
	{"signing_unavailable", Outcome{Kind: KindSigningUnavailable}, retryable, "signing secret unavailable, nothing sent"},
	{"zero outcome", Outcome{}, retryable, "no outcome recorded"},
	{"unknown kind", Outcome{Kind: 42}, retryable, "unknown outcome kind 42"},
	{"negative kind", Outcome{Kind: -1, StatusCode: 200}, retryable, "unknown outcome kind -1"},
	{"refused", Outcome{Kind: KindRefused, Err: errRefused}, terminal, "destination refused: address 10.0.0.1 is private"},
	{"refused without detail", Outcome{Kind: KindRefused}, terminal, "destination refused"},
	{"invalid_request", Outcome{Kind: KindInvalidRequest, Err: errors.New("unknown version 2")}, terminal, "invalid delivery request: unknown version 2"},
}

// wantDecision is the decision the default policy must make after attempt
// (1..7) for an outcome of the given class.
func wantDecision(attempt int, c class, reason string) Decision {
	defaultDelays := map[int]time.Duration{1: 1 * time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 16 * time.Second}
	switch {
	case c == success:
		return Decision{Action: ActionDeliver}
	case c == terminal:
		return Decision{Action: ActionDeadLetter, Reason: reason}
	case attempt <= 5:
		return Decision{Action: ActionRetry, Delay: defaultDelays[attempt], Reason: reason, DelayFrom: DelayFromSchedule}
	}
	return Decision{Action: ActionDeadLetter, Reason: fmt.Sprintf("attempts exhausted after %d attempts: %s", attempt, reason)}
}

func TestDecideDefaultPolicy(t *testing.T) {
	p := NewPolicy()
	for _, oc := range outcomeCases {
		for attempt := 1; attempt <= 7; attempt++ {
			t.Run(fmt.Sprintf("%s/attempt_%d", oc.name, attempt), func(t *testing.T) {
				got := p.Decide(attempt, oc.outcome)
				want := wantDecision(attempt, oc.class, oc.wantReason)
				if got != want {
					t.Errorf("Decide(%d, %+v) = %+v, want %+v", attempt, oc.outcome, got, want)
				}
			})
		}
	}
}

func TestDecideAttemptBounds(t *testing.T) {
	p := NewPolicy()
	fail := Outcome{Kind: KindResponse, StatusCode: 500}
	tests := []struct {
		name    string
		attempt int
		want    Decision
	}{
		{"zero is attempt 1", 0, Decision{Action: ActionRetry, Delay: time.Second, Reason: "HTTP 500", DelayFrom: DelayFromSchedule}},
		{"negative is attempt 1", -3, Decision{Action: ActionRetry, Delay: time.Second, Reason: "HTTP 500", DelayFrom: DelayFromSchedule}},
		{"min int is attempt 1", math.MinInt, Decision{Action: ActionRetry, Delay: time.Second, Reason: "HTTP 500", DelayFrom: DelayFromSchedule}},
		{"last retry", 5, Decision{Action: ActionRetry, Delay: 16 * time.Second, Reason: "HTTP 500", DelayFrom: DelayFromSchedule}},
		{"max attempts", 6, Decision{Action: ActionDeadLetter, Reason: "attempts exhausted after 6 attempts: HTTP 500"}},
		{"max int", math.MaxInt, Decision{Action: ActionDeadLetter, Reason: fmt.Sprintf("attempts exhausted after %d attempts: HTTP 500", math.MaxInt)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Decide(tt.attempt, fail); got != tt.want {
				t.Errorf("Decide(%d) = %+v, want %+v", tt.attempt, got, tt.want)
			}
		})
	}
}

func TestDecideCustomAndInvalidPolicies(t *testing.T) {
	fail := Outcome{Kind: KindTimeout}
	tests := []struct {
		name    string
		p       Policy
		attempt int
		want    Decision
	}{
		{"one retry, first attempt", Policy{Schedule: Schedule{time.Minute}}, 1,
			Decision{Action: ActionRetry, Delay: time.Minute, Reason: "timeout", DelayFrom: DelayFromSchedule}},
		{"one retry, exhausted", Policy{Schedule: Schedule{time.Minute}}, 2,
			Decision{Action: ActionDeadLetter, Reason: "attempts exhausted after 2 attempts: timeout"}},
		{"zero policy dead-letters at once", Policy{}, 1,
			Decision{Action: ActionDeadLetter, Reason: "attempts exhausted after 1 attempt: timeout"}},
		{"zero delay dead-letters with the index", Policy{Schedule: Schedule{time.Second, 0}}, 2,
			Decision{Action: ActionDeadLetter, Reason: "invalid retry policy: Schedule[1] = 0s, want > 0 (after attempt 2: timeout)"}},
		{"negative delay dead-letters", Policy{Schedule: Schedule{-time.Second}}, 1,
			Decision{Action: ActionDeadLetter, Reason: "invalid retry policy: Schedule[0] = -1s, want > 0 (after attempt 1: timeout)"}},
		{"jitter without Rand is exact", Policy{Schedule: Default(), Jitter: 0.5}, 3,
			Decision{Action: ActionRetry, Delay: 4 * time.Second, Reason: "timeout", DelayFrom: DelayFromSchedule}},
		{"jitter of 1 is ignored", Policy{Schedule: Default(), Jitter: 1, Rand: constRand(0)}, 3,
			Decision{Action: ActionRetry, Delay: 4 * time.Second, Reason: "timeout", DelayFrom: DelayFromSchedule}},
		{"NaN jitter is ignored", Policy{Schedule: Default(), Jitter: math.NaN(), Rand: constRand(0)}, 3,
			Decision{Action: ActionRetry, Delay: 4 * time.Second, Reason: "timeout", DelayFrom: DelayFromSchedule}},
		{"negative jitter is ignored", Policy{Schedule: Default(), Jitter: -0.5, Rand: constRand(0)}, 3,
			Decision{Action: ActionRetry, Delay: 4 * time.Second, Reason: "timeout", DelayFrom: DelayFromSchedule}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Decide(tt.attempt, fail); got != tt.want {
				t.Errorf("Decide(%d) = %+v, want %+v", tt.attempt, got, tt.want)
			}
		})
	}
}

func constRand(r float64) func() float64 { return func() float64 { return r } }

func TestDecideJitter(t *testing.T) {
	below1 := math.Nextafter(1, 0)
	tests := []struct {
		name   string
		jitter float64
		rand   float64
		base   time.Duration
		want   time.Duration
	}{
		{"rand 0 gives 1-J", 0.2, 0, 10 * time.Second, 8 * time.Second},
		{"rand 0.5 is exact", 0.2, 0.5, 10 * time.Second, 10 * time.Second},
		{"rand 0.25 is halfway down", 0.2, 0.25, 10 * time.Second, 9 * time.Second},
		{"rand 0.75 is halfway up", 0.2, 0.75, 10 * time.Second, 11 * time.Second},
		{"rand near 1 gives 1+J", 0.2, below1, 10 * time.Second, 12 * time.Second},
		{"odd jitter, rand 0.5 is exact", 0.37, 0.5, 16 * time.Second, 16 * time.Second},
		{"jitter 0 is exact", 0, 0, 10 * time.Second, 10 * time.Second},
		{"rand out of range low is clamped to 0", 0.2, -3, 10 * time.Second, 8 * time.Second},
		{"rand NaN is clamped to 0", 0.2, math.NaN(), 10 * time.Second, 8 * time.Second},
		{"rand 1 is clamped below 1", 0.2, 1, 10 * time.Second, 12 * time.Second},
		{"rand out of range high is clamped below 1", 0.2, 7, 10 * time.Second, 12 * time.Second},
		{"tiny delay stays positive", 0.9, 0, time.Nanosecond, time.Nanosecond},
		{"huge delay does not overflow", 0.9, below1, time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Policy{Schedule: Schedule{tt.base}, Jitter: tt.jitter, Rand: constRand(tt.rand)}
			got := p.Decide(1, Outcome{Kind: KindResponse, StatusCode: 503})
			if got.Action != ActionRetry {
				t.Fatalf("Action = %v, want %v", got.Action, ActionRetry)
			}
			// Rounding to the nanosecond: allow 1ns either way.
			if diff := got.Delay - tt.want; diff < -1 || diff > 1 {
				t.Errorf("Delay = %v, want %v", got.Delay, tt.want)
			}
		})
	}
}

func TestDecideJitterBounds(t *testing.T) {
	const jitter = 0.3
	p := Policy{Schedule: Default(), Jitter: jitter}
	for i := 0; i <= 1000; i++ {
		r := float64(i) / 1001 // 0 .. just below 1
		p.Rand = constRand(r)
		for attempt := 1; attempt < p.Schedule.MaxAttempts(); attempt++ {
			base := p.Schedule[attempt-1]
			lo := time.Duration(math.Floor(float64(base) * (1 - jitter)))
			hi := time.Duration(math.Ceil(float64(base) * (1 + jitter)))
			got := p.Decide(attempt, Outcome{Kind: KindConnection})
			if got.Action != ActionRetry || got.Delay < lo || got.Delay > hi {
				t.Fatalf("Decide(%d) with rand %v = %+v, want a retry with Delay in [%v, %v]", attempt, r, got, lo, hi)
			}
		}
	}
}

func TestDecideJitterNotForTerminalOrDelivered(t *testing.T) {
	calls := 0
	p := Policy{Schedule: Default(), Jitter: 0.5, Rand: func() float64 { calls++; return 0 }}
	for _, o := range []Outcome{{Kind: KindResponse, StatusCode: 200}, {Kind: KindRefused}, {Kind: KindInvalidRequest}} {
		if got := p.Decide(1, o); got.Delay != 0 {
			t.Errorf("Decide(1, %+v).Delay = %v, want 0", o, got.Delay)
		}
	}
	if got := p.Decide(6, Outcome{Kind: KindTimeout}); got.Delay != 0 {
		t.Errorf("exhausted Decide(6).Delay = %v, want 0", got.Delay)
	}
	if calls != 0 {
		t.Errorf("Rand called %d times, want 0", calls)
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name         string
		p            Policy
		wantErr      string // substring; "" means valid
		wantSchedErr bool   // the error also wraps ErrInvalidSchedule
	}{
		{"default", NewPolicy(), "", false},
		{"jitter with rand", Policy{Schedule: Default(), Jitter: 0.25, Rand: constRand(0)}, "", false},
		{"rand without jitter", Policy{Schedule: Default(), Rand: constRand(0)}, "", false},
		{"zero value", Policy{}, "no delays", true},
		{"bad delay", Policy{Schedule: Schedule{time.Second, -time.Second}}, "Schedule[1] = -1s, want > 0", true},
		{"jitter without rand", Policy{Schedule: Default(), Jitter: 0.1}, "Rand is nil", false},
		{"jitter 1", Policy{Schedule: Default(), Jitter: 1, Rand: constRand(0)}, "Jitter = 1, want a fraction in [0, 1)", false},
		{"negative jitter", Policy{Schedule: Default(), Jitter: -0.1, Rand: constRand(0)}, "Jitter = -0.1", false},
		{"NaN jitter", Policy{Schedule: Default(), Jitter: math.NaN(), Rand: constRand(0)}, "Jitter = NaN", false},
		{"infinite jitter", Policy{Schedule: Default(), Jitter: math.Inf(1), Rand: constRand(0)}, "Jitter = +Inf", false},
		{"retry-after cap", Policy{Schedule: Default(), RetryAfterCap: time.Hour}, "", false},
		{"negative retry-after cap", Policy{Schedule: Default(), RetryAfterCap: -time.Second}, "RetryAfterCap = -1s", false},
		{"huge retry-after cap", Policy{Schedule: Default(), RetryAfterCap: 25 * time.Hour}, "RetryAfterCap = 25h0m0s", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			checkErr(t, err, tt.wantErr, ErrInvalidPolicy)
			if got := errors.Is(err, ErrInvalidSchedule); got != tt.wantSchedErr {
				t.Errorf("errors.Is(%v, ErrInvalidSchedule) = %v, want %v", err, got, tt.wantSchedErr)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	tests := []struct {
		k    Kind
		want string
	}{
		{KindResponse, "response"},
		{KindTimeout, "timeout"},
		{KindConnection, "connection"},
		{KindTLS, "tls"},
		{KindSigningUnavailable, "signing_unavailable"},
		{KindRefused, "refused"},
		{KindInvalidRequest, "invalid_request"},
		{0, "Kind(0)"},
		{99, "Kind(99)"},
	}
	for _, tt := range tests {
		if got := tt.k.String(); got != tt.want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(tt.k), got, tt.want)
		}
	}
}

func TestActionString(t *testing.T) {
	tests := []struct {
		a    Action
		want string
	}{
		{ActionDeliver, "delivered"},
		{ActionRetry, "retry"},
		{ActionDeadLetter, "dead_letter"},
		{0, "Action(0)"},
		{-2, "Action(-2)"},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("Action(%d).String() = %q, want %q", int(tt.a), got, tt.want)
		}
	}
}

func TestDecisionReasonEmptyOnlyWhenDelivered(t *testing.T) {
	p := NewPolicy()
	for _, oc := range outcomeCases {
		for attempt := 1; attempt <= 7; attempt++ {
			d := p.Decide(attempt, oc.outcome)
			if (d.Action == ActionDeliver) != (d.Reason == "") {
				t.Errorf("%s: Decide(%d) = %+v, want an empty reason exactly when delivered", oc.name, attempt, d)
			}
		}
	}
}

// TestDecideRetryAfter: a 429 or 503 with a Retry-After waits
// max(schedule, min(Retry-After, cap)); other outcomes, a last attempt and
// a Retry-After shorter than the schedule keep the schedule.
func TestDecideRetryAfter(t *testing.T) {
	p := NewPolicy() // 1s, 2s, 4s, 8s, 16s; cap 60s
	capped := Policy{Schedule: Default(), RetryAfterCap: 90 * time.Second}
	tests := []struct {
		name      string
		p         Policy
		attempt   int
		o         Outcome
		wantDelay time.Duration
		wantFrom  DelaySource
	}{
		{"503 asks for more", p, 1, Outcome{Kind: KindResponse, StatusCode: 503, RetryAfter: 30 * time.Second}, 30 * time.Second, DelayFromRetryAfter},
		{"429 asks for more", p, 2, Outcome{Kind: KindResponse, StatusCode: 429, RetryAfter: 5 * time.Second}, 5 * time.Second, DelayFromRetryAfter},
		{"asks for less than the schedule", p, 4, Outcome{Kind: KindResponse, StatusCode: 429, RetryAfter: 3 * time.Second}, 8 * time.Second, DelayFromSchedule},
		{"asks for more than the default cap", p, 1, Outcome{Kind: KindResponse, StatusCode: 503, RetryAfter: 1e9 * time.Second}, 60 * time.Second, DelayFromRetryAfterCap},
		{"largest duration", p, 1, Outcome{Kind: KindResponse, StatusCode: 503, RetryAfter: math.MaxInt64}, 60 * time.Second, DelayFromRetryAfterCap},
		{"configured cap", capped, 1, Outcome{Kind: KindResponse, StatusCode: 503, RetryAfter: time.Hour}, 90 * time.Second, DelayFromRetryAfterCap},
		{"cap below the schedule", Policy{Schedule: Default(), RetryAfterCap: time.Second}, 5, Outcome{Kind: KindResponse, StatusCode: 503, RetryAfter: time.Minute}, 16 * time.Second, DelayFromSchedule},
		{"500 ignores it", p, 1, Outcome{Kind: KindResponse, StatusCode: 500, RetryAfter: 30 * time.Second}, time.Second, DelayFromSchedule},
		{"timeout ignores it", p, 1, Outcome{Kind: KindTimeout, RetryAfter: 30 * time.Second}, time.Second, DelayFromSchedule},
		{"negative is none", p, 1, Outcome{Kind: KindResponse, StatusCode: 503, RetryAfter: -time.Second}, time.Second, DelayFromSchedule},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.p.Decide(tt.attempt, tt.o)
			if got.Action != ActionRetry || got.Delay != tt.wantDelay || got.DelayFrom != tt.wantFrom {
				t.Errorf("Decide(%d, %+v) = %+v, want a retry after %v from %q", tt.attempt, tt.o, got, tt.wantDelay, tt.wantFrom)
			}
		})
	}
	// The attempt count does not change: the sixth attempt is the last.
	if got := p.Decide(6, Outcome{Kind: KindResponse, StatusCode: 503, RetryAfter: 10 * time.Second}); got.Action != ActionDeadLetter {
		t.Errorf("Decide(6) with a Retry-After = %+v, want a dead letter", got)
	}
}
