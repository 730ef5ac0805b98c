package egress

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseAllowList parses an operator allow-list (typically one environment
// variable) into a [Policy]. list is comma-separated; blanks around entries
// and empty entries are ignored, so "" gives the zero (secure) Policy. Each
// entry is one of:
//
//   - a CIDR prefix, "127.0.0.0/8" or "::1/128" (stored masked);
//   - a single IP address, "127.0.0.1" or "::1", which becomes a /32 or
//     /128 prefix (an IPv4-mapped address becomes its IPv4 /32);
//   - a host name, "receiver.internal" (stored lower-case, without a
//     trailing dot; no scheme, port or path).
//
// The error names the first bad entry. A non-empty result is UNSAFE: log
// [Policy.String] loudly.
func ParseAllowList(list string) (Policy, error) {
	var p Policy
	for _, raw := range strings.Split(list, ",") {
		e := strings.TrimSpace(raw)
		if e == "" {
			continue
		}
		if strings.Contains(e, "://") {
			return Policy{}, fmt.Errorf("egress: allow-list entry %q is not a CIDR prefix, IP address or host name (write the host name alone: no scheme, port or path)", e)
		}
		if strings.Contains(e, "/") {
			pfx, err := netip.ParsePrefix(e)
			if err != nil {
				return Policy{}, fmt.Errorf("egress: allow-list entry %q: not a valid CIDR prefix: %w", e, err)
			}
			p.AllowPrefixes = append(p.AllowPrefixes, pfx.Masked())
			continue
		}
		if a, err := netip.ParseAddr(e); err == nil {
			if a.Zone() != "" {
				return Policy{}, fmt.Errorf("egress: allow-list entry %q: zone-scoped addresses are not supported (use a prefix without zone)", e)
			}
			a = a.Unmap()
			p.AllowPrefixes = append(p.AllowPrefixes, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		host := strings.ToLower(strings.TrimSuffix(e, "."))
		if !isHostName(host) {
			return Policy{}, fmt.Errorf("egress: allow-list entry %q is not a CIDR prefix, IP address or host name", e)
		}
		p.AllowHosts = append(p.AllowHosts, host)
	}
	return p, nil
}

// isHostName reports whether s is a plausible DNS host name: at most 253
// characters, dot-separated labels of 1..63 letters, digits, '-' or '_'
// that do not start or end with '-', and a last label that is not all
// digits (so a mistyped IPv4 address such as "10.0.0.256" is rejected).
func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}
