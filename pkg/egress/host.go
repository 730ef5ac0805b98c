package egress

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Resolver resolves a host name to addresses. *net.Resolver (and
// net.DefaultResolver) satisfies it; tests pass a fake.
type Resolver interface {
	// LookupNetIP is called with network "ip" and a host name; see
	// net.Resolver.LookupNetIP.
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// CheckHost is the publish-time check of a destination URL's host (as
// returned by url.URL.Hostname: no port; IPv6 brackets are tolerated). It
// returns nil when:
//
//   - host is an IP literal that [Policy.CheckAddr] allows;
//   - host is in AllowHosts (not resolved);
//   - host resolves, with r.LookupNetIP(ctx, "ip", host), to at least one
//     address and EVERY address is allowed (IPv4-mapped results, which
//     net.Resolver returns for A records, are unmapped first).
//
// A refusal is a *[RefusedError] (errors.Is(err, [ErrRefused])) naming the
// host and the first refused address; an empty host is refused too. A
// resolution failure, or a name with no addresses, is a different error,
// "egress: cannot resolve host ...", wrapping the resolver's error; it is
// not ErrRefused. A nil r means net.DefaultResolver.
//
// Passing at publish time does not make a destination safe: the name may
// resolve elsewhere later, which the dial-time check ([Policy.Control])
// catches.
func (p Policy) CheckHost(ctx context.Context, host string, r Resolver) error {
	h := host
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if h == "" {
		return &RefusedError{Host: host, Reason: "empty host"}
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return p.CheckAddr(a)
	}
	if p.hostAllowed(h) {
		return nil
	}
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", h)
	if err != nil {
		return fmt.Errorf("egress: cannot resolve host %q: %w", h, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("egress: cannot resolve host %q: no addresses", h)
	}
	for _, a := range addrs {
		a = a.Unmap()
		if reason := p.reason(a); reason != "" {
			return &RefusedError{Host: h, Addr: a, Reason: reason}
		}
	}
	return nil
}
