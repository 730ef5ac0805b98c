package egress

import (
	"errors"
	"net/netip"
	"strconv"
)

// ErrRefused is the sentinel for every destination the [Policy] refuses.
// Test with errors.Is (or [IsRefused]); the concrete error is a
// *[RefusedError] saying which address and why.
var ErrRefused = errors.New("destination refused")

// RefusedError says why a destination was refused. errors.Is(err,
// [ErrRefused]) is true for it.
type RefusedError struct {
	// Host is the host name that was being checked or dialed. It is empty
	// when only an address was checked ([Policy.CheckAddr], or a dial to an
	// IP literal).
	Host string
	// Addr is the refused address, exactly as checked (an IPv4-mapped or
	// zone-scoped address keeps its form). It is the zero (invalid) Addr
	// when no address was involved, e.g. for an empty host.
	Addr netip.Addr
	// Reason is a short human-readable cause naming the range, e.g.
	// "loopback 127.0.0.0/8" or "IPv4-mapped form of 127.0.0.1: loopback
	// 127.0.0.0/8". It is meant for logs and error messages, not for
	// matching.
	Reason string
}

// Error returns "destination refused: host "h" address a: reason", leaving
// out the parts that are empty.
func (e *RefusedError) Error() string {
	s := ErrRefused.Error()
	sep := ": "
	if e.Host != "" {
		s += sep + "host " + strconv.Quote(e.Host)
		sep = " "
	}
	if e.Addr.IsValid() {
		s += sep + "address " + e.Addr.String()
	}
	return s + ": " + e.Reason
}

// Is reports whether target is [ErrRefused], so errors.Is(err, ErrRefused)
// holds for every *RefusedError.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// IsRefused reports whether err is, or wraps, a refusal by the [Policy]. It
// sees through the *url.Error and *net.OpError chains that
// http.Client.Do returns for a refused dial.
func IsRefused(err error) bool { return errors.Is(err, ErrRefused) }
