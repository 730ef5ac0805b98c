package egress

import (
	"net/netip"
	"testing"
)

// TestRangeMasks checks that the precomputed masks of every table entry
// agree with netip.Prefix.Contains on the range's first and last address
// and on their neighbours just outside.
func TestRangeMasks(t *testing.T) {
	tables := map[string][]blockedRange{"v4": blockedV4[:], "v6": blockedV6[:]}
	for name, table := range tables {
		for _, r := range table {
			t.Run(name+" "+r.prefix.String(), func(t *testing.T) {
				first := r.prefix.Addr()
				last := lastAddr(r.prefix)
				for _, a := range []netip.Addr{first, last, first.Prev(), last.Next()} {
					if !a.IsValid() {
						continue
					}
					var got bool
					if a.Is4() {
						got = r.containsV4(addrV4(a))
					} else {
						got = r.containsV6(addrV6(a))
					}
					if want := r.prefix.Contains(a); got != want {
						t.Errorf("contains(%s): got %v, want %v", a, got, want)
					}
				}
			})
		}
	}
}

// lastAddr returns the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
