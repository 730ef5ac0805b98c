package egress

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/sixtyfour-oss/webhooks/pkg/hostname"
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

// isHostName reports whether s is a plausible DNS host name
// (hostname.Valid) whose last label is not all digits (so a mistyped IPv4
// address such as "10.0.0.256" is rejected).
func isHostName(s string) bool {
	return hostname.Valid(s) && strings.Trim(hostname.LastLabel(s), "0123456789") != ""
}
