package retry

import (
	"fmt"
	"strconv"
	"time"
)

// Kind classifies what one delivery attempt produced. The zero Kind is not a
// valid class; [Policy.Decide] treats it, like any unknown Kind, as a failed
// attempt that is retried.
type Kind int

const (
	// KindResponse: an HTTP response arrived; Outcome.StatusCode holds its
	// status. Only 200..299 is success; redirects are never followed.
	KindResponse Kind = iota + 1
	// KindTimeout: the per-attempt timeout expired (it covers connect, TLS,
	// headers and body). Retried.
	KindTimeout
	// KindConnection: DNS failure, connection refused or reset, unexpected
	// EOF and similar transport errors. Retried.
	KindConnection
	// KindTLS: TLS handshake or certificate error. Retried.
	KindTLS
	// KindSigningUnavailable: the organization has a signing secret but it
	// could not be read or decrypted, so nothing was sent (fail-closed: never
	// an unsigned delivery). Retried; the attempt still counts.
	KindSigningUnavailable
	// KindRefused: the SSRF policy refused the destination at send time.
	// Terminal: dead-lettered at once, whatever the attempt.
	KindRefused
	// KindInvalidRequest: the delivery request could not be decoded or
	// validated. Terminal: dead-lettered at once, whatever the attempt.
	KindInvalidRequest
)

// String returns the Kind's stable snake_case name, for logs and records:
// "response", "timeout", "connection", "tls", "signing_unavailable",
// "refused", "invalid_request"; "Kind(n)" for any other value.
func (k Kind) String() string {
	switch k {
	case KindResponse:
		return "response"
	case KindTimeout:
		return "timeout"
	case KindConnection:
		return "connection"
	case KindTLS:
		return "tls"
	case KindSigningUnavailable:
		return "signing_unavailable"
	case KindRefused:
		return "refused"
	case KindInvalidRequest:
		return "invalid_request"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Outcome is what one attempt produced, as classified by the caller.
type Outcome struct {
	// Kind classifies the attempt. The zero value is treated as an unknown
	// failure and retried.
	Kind Kind
	// StatusCode is the HTTP status, meaningful only for KindResponse.
	StatusCode int
	// Err is optional detail (the transport error, the refusal reason); its
	// text is appended to the decision's reason. It is never inspected.
	Err error
	// RetryAfter is the wait the receiver asked for with a Retry-After
	// header, as the caller read it; 0 when it sent none or an unusable one. It
	// counts only on a 429 or 503 response: see Policy.Decide.
	RetryAfter time.Duration
}

// honoursRetryAfter reports whether o is a response whose Retry-After
// header delays the next attempt: 429 Too Many Requests or 503 Service
// Unavailable, with a wait greater than 0.
func (o Outcome) honoursRetryAfter() bool {
	return o.Kind == KindResponse && (o.StatusCode == 429 || o.StatusCode == 503) && o.RetryAfter > 0
}

// succeeded reports whether o is a delivered attempt: a 2xx response.
func (o Outcome) succeeded() bool {
	return o.Kind == KindResponse && o.StatusCode >= 200 && o.StatusCode <= 299
}

// terminal reports whether o must be dead-lettered whatever the attempt.
func (o Outcome) terminal() bool {
	return o.Kind == KindRefused || o.Kind == KindInvalidRequest
}

// reason is the human-readable description of a failed attempt, for
// example "HTTP 503" or "connection error: dial tcp: connection refused".
func (o Outcome) reason() string {
	s := o.label()
	if o.Err != nil {
		s += ": " + o.Err.Error()
	}
	return s
}

// label describes o without its error detail.
func (o Outcome) label() string {
	switch o.Kind {
	case KindResponse:
		if o.StatusCode >= 300 && o.StatusCode <= 399 {
			return fmt.Sprintf("HTTP %d (redirects are not followed)", o.StatusCode)
		}
		return fmt.Sprintf("HTTP %d", o.StatusCode)
	case KindTimeout:
		return "timeout"
	case KindConnection:
		return "connection error"
	case KindTLS:
		return "TLS error"
	case KindSigningUnavailable:
		return "signing secret unavailable, nothing sent"
	case KindRefused:
		return "destination refused"
	case KindInvalidRequest:
		return "invalid delivery request"
	case 0:
		return "no outcome recorded"
	}
	return fmt.Sprintf("unknown outcome kind %d", int(o.Kind))
}
