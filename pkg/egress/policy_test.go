package egress

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// refusedForms are special-purpose address forms the zero Policy must refuse,
// with a substring the reason must contain. Pure checks: nothing is dialed.
var refusedForms = []struct {
	name, addr, reason string
}{
	// IPv4, first and last address of every range.
	{"this network first", "0.0.0.0", "0.0.0.0/8"},
	{"this network last", "0.255.255.255", "0.0.0.0/8"},
	{"private 10 first", "10.0.0.0", "private 10.0.0.0/8"},
	{"private 10", "10.0.0.1", "private 10.0.0.0/8"},
	{"private 10 last", "10.255.255.255", "private 10.0.0.0/8"},
	{"cgnat first", "100.64.0.0", "CGNAT"},
	{"cgnat", "100.64.0.1", "CGNAT"},
	{"cgnat near last", "100.127.255.254", "CGNAT"},
	{"cgnat last", "100.127.255.255", "CGNAT"},
	{"loopback first", "127.0.0.0", "loopback 127.0.0.0/8"},
	{"loopback", "127.0.0.1", "loopback 127.0.0.0/8"},
	{"loopback last", "127.255.255.255", "loopback 127.0.0.0/8"},
	{"link-local first", "169.254.0.0", "link-local 169.254.0.0/16"},
	{"metadata", "169.254.169.254", "metadata"},
	{"link-local last", "169.254.255.255", "link-local 169.254.0.0/16"},
	{"private 172 first", "172.16.0.0", "private 172.16.0.0/12"},
	{"private 172 last", "172.31.255.255", "private 172.16.0.0/12"},
	{"ietf assignments first", "192.0.0.0", "192.0.0.0/24"},
	{"ietf assignments last", "192.0.0.255", "192.0.0.0/24"},
	{"documentation 1 first", "192.0.2.0", "documentation 192.0.2.0/24"},
	{"documentation 1 last", "192.0.2.255", "documentation 192.0.2.0/24"},
	{"6to4 relay first", "192.88.99.0", "192.88.99.0/24"},
	{"6to4 relay last", "192.88.99.255", "192.88.99.0/24"},
	{"private 192.168 first", "192.168.0.0", "private 192.168.0.0/16"},
	{"private 192.168 last", "192.168.255.255", "private 192.168.0.0/16"},
	{"benchmarking first", "198.18.0.0", "benchmarking 198.18.0.0/15"},
	{"benchmarking last", "198.19.255.255", "benchmarking 198.18.0.0/15"},
	{"documentation 2 first", "198.51.100.0", "documentation 198.51.100.0/24"},
	{"documentation 2 last", "198.51.100.255", "documentation 198.51.100.0/24"},
	{"documentation 3 first", "203.0.113.0", "documentation 203.0.113.0/24"},
	{"documentation 3 last", "203.0.113.255", "documentation 203.0.113.0/24"},
	{"multicast first", "224.0.0.0", "multicast 224.0.0.0/4"},
	{"multicast mdns", "224.0.0.251", "multicast 224.0.0.0/4"},
	{"multicast last", "239.255.255.255", "multicast 224.0.0.0/4"},
	{"reserved first", "240.0.0.0", "reserved 240.0.0.0/4"},
	{"reserved near last", "255.255.255.254", "reserved 240.0.0.0/4"},
	{"broadcast", "255.255.255.255", "broadcast"},
	// IPv4-mapped IPv6: unmapped, then the IPv4 address is checked.
	{"mapped loopback", "::ffff:127.0.0.1", "IPv4-mapped form of 127.0.0.1: loopback"},
	{"mapped loopback hex", "::ffff:7f00:1", "IPv4-mapped form of 127.0.0.1: loopback"},
	{"mapped private", "::ffff:10.0.0.1", "IPv4-mapped form of 10.0.0.1: private"},
	{"mapped metadata", "::ffff:169.254.169.254", "IPv4-mapped form of 169.254.169.254"},
	{"mapped cgnat", "::ffff:100.64.0.1", "IPv4-mapped form of 100.64.0.1"},
	{"mapped unspecified", "::ffff:0.0.0.0", "IPv4-mapped form of 0.0.0.0"},
	{"mapped broadcast", "::ffff:255.255.255.255", "IPv4-mapped form of 255.255.255.255"},
	// IPv6 outside 2000::/3.
	{"v6 unspecified", "::", "unspecified ::/128"},
	{"v6 unspecified long", "0:0:0:0:0:0:0:0", "unspecified ::/128"},
	{"v6 loopback", "::1", "loopback ::1/128"},
	{"v4-compatible loopback", "::127.0.0.1", "IPv4-compatible ::/96 form of 127.0.0.1"},
	{"v4-compatible private", "::a00:1", "IPv4-compatible ::/96 form of 10.0.0.1"},
	{"v4-compatible public", "::8.8.8.8", "IPv4-compatible ::/96 (embeds 8.8.8.8)"},
	{"v4-compatible low", "::2", "IPv4-compatible ::/96"},
	{"v4-compatible last", "::ffff:ffff", "IPv4-compatible ::/96"},
	{"nat64 loopback", "64:ff9b::7f00:1", "NAT64 64:ff9b::/96 form of 127.0.0.1"},
	{"nat64 metadata", "64:ff9b::a9fe:a9fe", "NAT64 64:ff9b::/96 form of 169.254.169.254"},
	{"nat64 dotted", "64:ff9b::10.0.0.1", "form of 10.0.0.1"},
	{"nat64 public", "64:ff9b::808:808", "NAT64 64:ff9b::/96 (embeds 8.8.8.8)"},
	{"nat64 first", "64:ff9b::", "NAT64"},
	{"nat64 last", "64:ff9b::ffff:ffff", "NAT64"},
	{"local nat64 private", "64:ff9b:1::a00:1", "local-use NAT64 64:ff9b:1::/48 form of 10.0.0.1"},
	{"local nat64 last", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "local-use NAT64"},
	{"discard first", "100::", "discard-only 100::/64"},
	{"discard last", "100::ffff:ffff:ffff:ffff", "discard-only 100::/64"},
	{"ula first", "fc00::", "unique local fc00::/7"},
	{"aws imds v6", "fd00:ec2::254", "metadata"},
	{"ula last", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique local fc00::/7"},
	{"link-local v6 first", "fe80::", "link-local fe80::/10"},
	{"link-local v6", "fe80::1", "link-local fe80::/10"},
	{"link-local v6 last", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link-local fe80::/10"},
	{"site-local", "fec0::1", "site-local"},
	{"multicast v6 first", "ff00::", "multicast ff00::/8"},
	{"multicast all nodes", "ff02::1", "multicast ff00::/8"},
	{"multicast site", "ff05::1:3", "multicast ff00::/8"},
	{"multicast v6 last", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast ff00::/8"},
	{"just below 2000::/3", "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "not a global unicast"},
	{"just above 2000::/3", "4000::", "not a global unicast"},
	{"srv6 sid", "5f00::1", "not a global unicast"},
	{"ipv4-compat boundary", "::1:0:0:0", "not a global unicast"},
	// Zone-scoped addresses.
	{"zone link-local", "fe80::1%eth0", "zone-scoped"},
	{"zone lo", "fe80::1%lo", "zone-scoped"},
	{"zone on global", "2606:4700:4700::1111%eth0", "zone-scoped"},
	// Special ranges carved out of 2000::/3.
	{"teredo first", "2001::", "Teredo 2001::/32"},
	{"teredo", "2001::1", "Teredo 2001::/32"},
	{"teredo embeds loopback", "2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo 2001::/32 form of 127.0.0.1"},
	{"ietf v6 assignments", "2001:100::1", "IETF protocol assignments 2001::/23"},
	{"ietf v6 assignments last", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "2001::/23"},
	{"documentation v6 first", "2001:db8::", "documentation 2001:db8::/32"},
	{"documentation v6", "2001:db8::1", "documentation 2001:db8::/32"},
	{"documentation v6 last", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "documentation 2001:db8::/32"},
	{"6to4 loopback", "2002:7f00:1::1", "6to4 2002::/16 form of 127.0.0.1"},
	{"6to4 private", "2002:a00:1::1", "6to4 2002::/16 form of 10.0.0.1"},
	{"6to4 public", "2002:808:808::1", "6to4 2002::/16 (embeds 8.8.8.8)"},
	{"6to4 last", "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "6to4 2002::/16"},
	{"documentation 3fff first", "3fff::", "documentation 3fff::/20"},
	{"documentation 3fff", "3fff::1", "documentation 3fff::/20"},
	{"documentation 3fff last", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "documentation 3fff::/20"},
}

// allowedForms are ordinary public addresses, many of them the neighbours
// of a blocked range. Only CheckAddr sees them: nothing is dialed.
var allowedForms = []string{
	"8.8.8.8", "1.1.1.1", "93.184.216.34", "1.0.0.0",
	"9.255.255.255", "11.0.0.0",
	"100.63.255.255", "100.128.0.0",
	"126.255.255.255", "128.0.0.0",
	"169.253.255.255", "169.255.0.0",
	"172.15.255.255", "172.32.0.0",
	"192.0.1.255", "192.0.3.0", "192.88.98.255", "192.88.100.0",
	"192.167.255.255", "192.169.0.1",
	"198.17.255.255", "198.20.0.0",
	"198.51.99.255", "198.51.101.0", "203.0.112.255", "203.0.114.0",
	"223.255.255.255",
	"::ffff:8.8.8.8",
	"2606:4700:4700::1111", "2001:4860:4860::8888", "2000::1",
	"2001:200::", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::",
	"2003::1", "3ffe::1", "3fff:1000::", "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
}

func TestRefusedForms(t *testing.T) {
	if got := len(refusedForms); got < 70 {
		t.Fatalf("refused forms: got %d, want at least 70", got)
	}
	var p Policy
	for _, tc := range refusedForms {
		t.Run(tc.name, func(t *testing.T) {
			a := netip.MustParseAddr(tc.addr)
			err := p.CheckAddr(a)
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("CheckAddr(%s): got %v, want ErrRefused", tc.addr, err)
			}
			var re *RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("CheckAddr(%s): got %T, want *RefusedError", tc.addr, err)
			}
			if got, want := re.Reason, tc.reason; !strings.Contains(got, want) {
				t.Errorf("CheckAddr(%s) reason: got %q, want it to contain %q", tc.addr, got, want)
			}
			if got, want := re.Addr, a; got != want {
				t.Errorf("CheckAddr(%s) Addr: got %v, want %v", tc.addr, got, want)
			}
		})
	}
}

func TestAllowedForms(t *testing.T) {
	if got := len(allowedForms); got < 6 {
		t.Fatalf("allowed forms: got %d, want at least 6", got)
	}
	var p Policy
	for _, addr := range allowedForms {
		t.Run(addr, func(t *testing.T) {
			if err := p.CheckAddr(netip.MustParseAddr(addr)); err != nil {
				t.Errorf("CheckAddr(%s): got %v, want nil", addr, err)
			}
		})
	}
}

func TestCheckAddrInvalid(t *testing.T) {
	err := Policy{}.CheckAddr(netip.Addr{})
	if !IsRefused(err) {
		t.Fatalf("CheckAddr(zero Addr): got %v, want ErrRefused", err)
	}
	if got, want := err.Error(), "destination refused: invalid address"; got != want {
		t.Errorf("Error(): got %q, want %q", got, want)
	}
}

func TestCheckAddrAllowPrefixes(t *testing.T) {
	p := Policy{AllowPrefixes: []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("fe80::/10"),
		netip.MustParsePrefix("fd00:ec2::/32"),
	}}
	tests := []struct {
		name, addr string
		allowed    bool
	}{
		{"loopback allowed", "127.0.0.1", true},
		{"loopback last allowed", "127.255.255.255", true},
		{"mapped loopback allowed", "::ffff:127.0.0.1", true},
		{"zone-scoped inside prefix allowed", "fe80::1%eth0", true},
		{"ula inside prefix allowed", "fd00:ec2::254", true},
		{"private still refused", "10.0.0.1", false},
		{"metadata still refused", "169.254.169.254", false},
		{"v6 loopback still refused", "::1", false},
		{"nat64 of allowed v4 still refused", "64:ff9b::7f00:1", false},
		{"6to4 of allowed v4 still refused", "2002:7f00:1::1", false},
		{"other ula refused", "fd00::1", false},
		{"public allowed", "8.8.8.8", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := p.CheckAddr(netip.MustParseAddr(tc.addr))
			if got, want := err == nil, tc.allowed; got != want {
				t.Errorf("CheckAddr(%s): got %v, want allowed=%v", tc.addr, err, want)
			}
		})
	}
}

func TestRefusedErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  *RefusedError
		want string
	}{
		{"addr only", &RefusedError{Addr: netip.MustParseAddr("10.0.0.1"), Reason: "private 10.0.0.0/8"},
			"destination refused: address 10.0.0.1: private 10.0.0.0/8"},
		{"host and addr", &RefusedError{Host: "evil.example", Addr: netip.MustParseAddr("127.0.0.1"), Reason: "loopback 127.0.0.0/8"},
			`destination refused: host "evil.example" address 127.0.0.1: loopback 127.0.0.0/8`},
		{"host only", &RefusedError{Host: "x", Reason: "r"}, `destination refused: host "x": r`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error(): got %q, want %q", got, tc.want)
			}
			if !errors.Is(tc.err, ErrRefused) {
				t.Errorf("errors.Is(ErrRefused): got false, want true")
			}
		})
	}
}

func TestPolicyString(t *testing.T) {
	var zero Policy
	if zero.IsUnsafe() {
		t.Errorf("zero Policy IsUnsafe: got true, want false")
	}
	if got := zero.String(); strings.Contains(got, "UNSAFE") {
		t.Errorf("zero Policy String: got %q, want no UNSAFE", got)
	}
	p := Policy{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, AllowHosts: []string{"receiver.internal"}}
	if !p.IsUnsafe() {
		t.Errorf("IsUnsafe: got false, want true")
	}
	got := p.String()
	for _, want := range []string{"UNSAFE", "127.0.0.0/8", "receiver.internal"} {
		if !strings.Contains(got, want) {
			t.Errorf("String: got %q, want it to contain %q", got, want)
		}
	}
	if !(Policy{AllowHosts: []string{"h"}}).IsUnsafe() {
		t.Errorf("hosts-only IsUnsafe: got false, want true")
	}
}

func TestCheckAddrAllocs(t *testing.T) {
	p := Policy{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	for _, s := range []string{"8.8.8.8", "::ffff:8.8.8.8", "2606:4700:4700::1111", "2001:200::1", "127.0.0.1"} {
		a := netip.MustParseAddr(s)
		if got := testing.AllocsPerRun(100, func() { _ = p.CheckAddr(a) }); got != 0 {
			t.Errorf("CheckAddr(%s) allocations: got %v, want 0", s, got)
		}
	}
}

func BenchmarkCheckAddr(b *testing.B) {
	var p Policy
	for _, s := range []string{"8.8.8.8", "2606:4700:4700::1111", "10.0.0.1"} {
		a := netip.MustParseAddr(s)
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = p.CheckAddr(a)
			}
		})
	}
}
