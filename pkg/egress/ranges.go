package egress

import (
	"encoding/binary"
	"net/netip"
)

// blockedRange is one special-purpose range and the reason reported for it.
// The prefix is also kept as two 64-bit network/mask pairs (an IPv4 prefix
// uses the low 32 bits of lo), so matching is a few integer operations.
type blockedRange struct {
	prefix         netip.Prefix
	reason         string
	embeds         embedding // where an IPv4 address is embedded, for the reason text
	netHi, netLo   uint64
	maskHi, maskLo uint64
}

// newRange parses prefix (which must be valid) and precomputes its masks.
func newRange(prefix, reason string, embeds embedding) blockedRange {
	p := netip.MustParsePrefix(prefix).Masked()
	r := blockedRange{prefix: p, reason: reason, embeds: embeds}
	bits := p.Bits()
	if p.Addr().Is4() {
		r.maskLo = uint64(uint32(^uint64(0) << (32 - bits)))
		r.netLo = addrV4(p.Addr())
		return r
	}
	r.maskHi, r.maskLo = mask128(bits)
	r.netHi, r.netLo = addrV6(p.Addr())
	return r
}

// mask128 returns the high and low words of a 128-bit mask of bits ones.
func mask128(bits int) (hi, lo uint64) {
	switch {
	case bits >= 128:
		return ^uint64(0), ^uint64(0)
	case bits > 64:
		return ^uint64(0), ^uint64(0) << (128 - bits)
	case bits == 64:
		return ^uint64(0), 0
	case bits > 0:
		return ^uint64(0) << (64 - bits), 0
	}
	return 0, 0
}

// addrV4 returns the IPv4 address a as a number.
func addrV4(a netip.Addr) uint64 {
	b := a.As4()
	return uint64(binary.BigEndian.Uint32(b[:]))
}

// addrV6 returns the IPv6 address a as two big-endian words.
func addrV6(a netip.Addr) (hi, lo uint64) {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// containsV4 reports whether the IPv4 address v (see addrV4) is in r.
func (r *blockedRange) containsV4(v uint64) bool { return v&r.maskLo == r.netLo }

// containsV6 reports whether the IPv6 address (hi, lo) is in r.
func (r *blockedRange) containsV6(hi, lo uint64) bool {
	return hi&r.maskHi == r.netHi && lo&r.maskLo == r.netLo
}

// embedding says how an IPv6 range embeds an IPv4 address.
type embedding uint8

const (
	embedsNone   embedding = iota
	embedsLow32            // last 32 bits: IPv4-compatible ::/96, NAT64 (RFC 6052 /96 layout)
	embeds6to4             // bits 16..47: 6to4 2002:V4ADDR::/48 (RFC 3056)
	embedsTeredo           // last 32 bits inverted: Teredo client address (RFC 4380)
)

// blockedV4 lists the special-purpose IPv4 ranges refused by default
// (IANA IPv4 Special-Purpose Address Registry, minus nothing: ranges that are
// "globally reachable" but useless as webhook destinations are refused too).
// More specific entries come first so that the reason is the most precise one.
// The table is read-only after package initialization.
var blockedV4 = [...]blockedRange{
	newRange("255.255.255.255/32", "limited broadcast 255.255.255.255/32", embedsNone),
	newRange("169.254.169.254/32", "link-local 169.254.0.0/16 (cloud metadata service)", embedsNone),
	newRange("0.0.0.0/8", "\"this network\" 0.0.0.0/8", embedsNone),
	newRange("10.0.0.0/8", "private 10.0.0.0/8", embedsNone),
	newRange("100.64.0.0/10", "shared address space (CGNAT) 100.64.0.0/10", embedsNone),
	newRange("127.0.0.0/8", "loopback 127.0.0.0/8", embedsNone),
	newRange("169.254.0.0/16", "link-local 169.254.0.0/16", embedsNone),
	newRange("172.16.0.0/12", "private 172.16.0.0/12", embedsNone),
	newRange("192.0.0.0/24", "IETF protocol assignments 192.0.0.0/24", embedsNone),
	newRange("192.0.2.0/24", "documentation 192.0.2.0/24", embedsNone),
	newRange("192.88.99.0/24", "6to4 relay anycast 192.88.99.0/24", embedsNone),
	newRange("192.168.0.0/16", "private 192.168.0.0/16", embedsNone),
	newRange("198.18.0.0/15", "benchmarking 198.18.0.0/15", embedsNone),
	newRange("198.51.100.0/24", "documentation 198.51.100.0/24", embedsNone),
	newRange("203.0.113.0/24", "documentation 203.0.113.0/24", embedsNone),
	newRange("224.0.0.0/4", "multicast 224.0.0.0/4", embedsNone),
	newRange("240.0.0.0/4", "reserved 240.0.0.0/4", embedsNone),
}

// blockedV6 lists the IPv6 ranges refused by default with a named reason.
// Anything else outside 2000::/3 is refused as "not a global unicast
// address". More specific entries come first. Read-only after init.
var blockedV6 = [...]blockedRange{
	newRange("::/128", "unspecified ::/128", embedsNone),
	newRange("::1/128", "loopback ::1/128", embedsNone),
	newRange("::/96", "IPv4-compatible ::/96", embedsLow32),
	newRange("64:ff9b::/96", "NAT64 64:ff9b::/96", embedsLow32),
	newRange("64:ff9b:1::/48", "local-use NAT64 64:ff9b:1::/48", embedsLow32),
	newRange("100::/64", "discard-only 100::/64", embedsNone),
	newRange("2001::/32", "Teredo 2001::/32", embedsTeredo),
	newRange("2001::/23", "IETF protocol assignments 2001::/23", embedsNone),
	newRange("2001:db8::/32", "documentation 2001:db8::/32", embedsNone),
	newRange("2002::/16", "6to4 2002::/16", embeds6to4),
	newRange("3fff::/20", "documentation 3fff::/20", embedsNone),
	newRange("fd00:ec2::254/128", "unique local fc00::/7 (AWS metadata service)", embedsNone),
	newRange("fc00::/7", "unique local fc00::/7", embedsNone),
	newRange("fe80::/10", "link-local fe80::/10", embedsNone),
	newRange("fec0::/10", "site-local (deprecated) fec0::/10", embedsNone),
	newRange("ff00::/8", "multicast ff00::/8", embedsNone),
}

// reasonV4 returns why the IPv4 address a is refused, or "" if it is an
// ordinary public address. It does not allocate.
func reasonV4(a netip.Addr) string {
	v := addrV4(a)
	for i := range blockedV4 {
		if blockedV4[i].containsV4(v) {
			return blockedV4[i].reason
		}
	}
	return ""
}

// reasonV6 returns why the zone-less, non-IPv4-mapped IPv6 address a is
// refused, or "" if it is an ordinary global unicast address. It allocates
// only when building a reason that names an embedded IPv4 address.
func reasonV6(a netip.Addr) string {
	hi, lo := addrV6(a)
	for i := range blockedV6 {
		r := &blockedV6[i]
		if r.containsV6(hi, lo) {
			if r.embeds == embedsNone {
				return r.reason
			}
			return embeddedReason(r.reason, embeddedV4(a, r.embeds))
		}
	}
	if hi>>61 != 0b001 { // outside 2000::/3
		return "not a global unicast address (outside 2000::/3)"
	}
	return ""
}

// embeddedReason names the embedded IPv4 address in base. The IPv6 form is
// refused whatever it embeds; the text only helps a reader see what was
// targeted, e.g. "NAT64 64:ff9b::/96 form of 127.0.0.1 (loopback
// 127.0.0.0/8)".
func embeddedReason(base string, v4 netip.Addr) string {
	if r := reasonV4(v4); r != "" {
		return base + " form of " + v4.String() + " (" + r + ")"
	}
	return base + " (embeds " + v4.String() + ")"
}

// embeddedV4 extracts the IPv4 address that a embeds in the given layout.
// For the local-use NAT64 prefix 64:ff9b:1::/48 the network may use any
// RFC 6052 layout; the /96 layout (last 32 bits) is assumed for the reason.
func embeddedV4(a netip.Addr, how embedding) netip.Addr {
	b := a.As16()
	var v4 [4]byte
	switch how {
	case embeds6to4:
		copy(v4[:], b[2:6])
	case embedsTeredo:
		for i := range v4 {
			v4[i] = ^b[12+i]
		}
	default:
		copy(v4[:], b[12:16])
	}
	return netip.AddrFrom4(v4)
}
