package deliver

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// retryAfter reads the Retry-After header of a response received at now
// (RFC 9110, section 10.2.3): a number of seconds (digits only) or an HTTP
// date. It returns the wait the receiver asked for, or 0 for a header that
// is absent, negative, fractional, garbage, or a date not after now: the
// schedule's delay applies then. A number of seconds too large for a
// time.Duration becomes the largest one, which retry.Policy.Decide caps.
func retryAfter(h http.Header, now time.Time) time.Duration {
	value := strings.TrimSpace(h.Get("Retry-After"))
	if value == "" {
		return 0
	}
	if value[0] >= '0' && value[0] <= '9' {
		if strings.TrimLeft(value, "0123456789") != "" {
			return 0
		}
		secs, err := strconv.ParseUint(value, 10, 64)
		if err != nil || secs > uint64(math.MaxInt64/int64(time.Second)) {
			return time.Duration(math.MaxInt64)
		}
		return time.Duration(secs) * time.Second
	}
	at, err := http.ParseTime(value)
	if err != nil || !at.After(now) {
		return 0
	}
	return at.Sub(now)
}
