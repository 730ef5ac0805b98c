package egress

import (
	"net/netip"
	"strings"
)

// Policy is the destination address policy: which addresses the deliverer
// may connect to. The zero value is the secure default and refuses every
// special-purpose address (see the package documentation); the allow-list
// fields only ever widen it.
//
// A Policy is a value; do not modify its slices once it is in use (the dial
// function and transport built from it keep their own copy).
type Policy struct {
	// AllowPrefixes is an UNSAFE operator allow-list: an address inside any
	// of these prefixes is allowed even if it is special-purpose (e.g.
	// 127.0.0.0/8 for local testing). An IPv4 prefix also matches the
	// IPv4-mapped form of its addresses; it does not open NAT64, 6to4 or
	// IPv4-compatible forms. A zone-scoped address is allowed when its
	// zone-less form is inside a prefix. Empty by default.
	AllowPrefixes []netip.Prefix
	// AllowHosts is an UNSAFE operator allow-list of exact host names
	// (case-insensitive, without port; a trailing dot is ignored). Dials
	// to these names are not checked at all, whatever they resolve to, and
	// [Policy.CheckHost] accepts them without resolving. Empty by default.
	AllowHosts []string
}

// IsUnsafe reports whether any allow-list entry is set, i.e. whether the
// policy can let special-purpose addresses through. Callers must log the
// policy loudly ([Policy.String]) when it is.
func (p Policy) IsUnsafe() bool {
	return len(p.AllowPrefixes) > 0 || len(p.AllowHosts) > 0
}

// String describes the policy for the loud startup log line, e.g.
// "UNSAFE egress allow-list: prefixes [127.0.0.0/8] hosts [receiver.internal]
// (special-purpose addresses in these are reachable)".
func (p Policy) String() string {
	if !p.IsUnsafe() {
		return "egress policy: special-purpose addresses refused (no allow-list)"
	}
	var b strings.Builder
	b.WriteString("UNSAFE egress allow-list: prefixes [")
	for i, pfx := range p.AllowPrefixes {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(pfx.String())
	}
	b.WriteString("] hosts [")
	b.WriteString(strings.Join(p.AllowHosts, " "))
	b.WriteString("] (special-purpose addresses in these are reachable)")
	return b.String()
}

// CheckAddr returns nil if the policy allows connecting to a, and otherwise
// a *[RefusedError] (errors.Is(err, [ErrRefused])) whose Reason names the
// range. In order: an address inside AllowPrefixes is allowed; a
// zone-scoped address is refused; an IPv4-mapped address (::ffff:a.b.c.d)
// is unmapped and its IPv4 address checked (the reason says so); then the
// block list. The invalid (zero) Addr is refused.
//
// CheckAddr runs on every new connection: it does not allocate when the
// address is allowed.
func (p Policy) CheckAddr(a netip.Addr) error {
	if r := p.reason(a); r != "" {
		return &RefusedError{Addr: a, Reason: r}
	}
	return nil
}

// reason returns why a is refused, or "" if it is allowed.
func (p Policy) reason(a netip.Addr) string {
	if !a.IsValid() {
		return "invalid address"
	}
	if p.prefixAllowed(a.WithZone("")) {
		return ""
	}
	if a.Zone() != "" {
		return "zone-scoped address"
	}
	if a.Is4In6() {
		v4 := a.Unmap()
		if p.prefixAllowed(v4) {
			return ""
		}
		if r := reasonV4(v4); r != "" {
			return "IPv4-mapped form of " + v4.String() + ": " + r
		}
		return ""
	}
	if a.Is4() {
		return reasonV4(a)
	}
	return reasonV6(a)
}

// prefixAllowed reports whether a (without zone) is inside AllowPrefixes.
func (p Policy) prefixAllowed(a netip.Addr) bool {
	for _, pfx := range p.AllowPrefixes {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// hostAllowed reports whether host is in AllowHosts (case-insensitive,
// trailing dot ignored on both sides). It does not allocate.
func (p Policy) hostAllowed(host string) bool {
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		return false
	}
	for _, h := range p.AllowHosts {
		if strings.EqualFold(strings.TrimSuffix(h, "."), host) {
			return true
		}
	}
	return false
}

// clone returns p with its own copies of the allow-lists.
func (p Policy) clone() Policy {
	return Policy{
		AllowPrefixes: append([]netip.Prefix(nil), p.AllowPrefixes...),
		AllowHosts:    append([]string(nil), p.AllowHosts...),
	}
}
