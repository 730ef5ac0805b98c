package egress

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// oracleBlocked is an independent restatement of the block list (written
// from the research notes, not from ranges.go) used to judge fuzz results.
var oracleBlocked = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range strings.Fields(`
		0.0.0.0/8 10.0.0.0/8 100.64.0.0/10 127.0.0.0/8 169.254.0.0/16 172.16.0.0/12
		192.0.0.0/24 192.0.2.0/24 192.88.99.0/24 192.168.0.0/16 198.18.0.0/15
		198.51.100.0/24 203.0.113.0/24 224.0.0.0/4 240.0.0.0/4
		2001::/23 2001:db8::/32 2002::/16 3fff::/20`) {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

var oracleGlobalV6 = netip.MustParsePrefix("2000::/3")

// oracleAllows says whether the zero Policy should allow a.
func oracleAllows(a netip.Addr) bool {
	if !a.IsValid() || a.Zone() != "" {
		return false
	}
	a = a.Unmap()
	if a.Is6() && !oracleGlobalV6.Contains(a) {
		return false
	}
	for _, p := range oracleBlocked {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// checkAgainstOracle fails t unless the zero Policy's verdict on a matches
// the oracle and every refusal is a *RefusedError.
func checkAgainstOracle(t *testing.T, a netip.Addr) {
	err := Policy{}.CheckAddr(a)
	if got, want := err == nil, oracleAllows(a); got != want {
		t.Fatalf("CheckAddr(%s): got %v, want allowed=%v", a, err, want)
	}
	var re *RefusedError
	if err != nil && (!errors.As(err, &re) || !errors.Is(err, ErrRefused) || re.Reason == "") {
		t.Fatalf("CheckAddr(%s): got %#v, want *RefusedError with a reason", a, err)
	}
}

// FuzzCheckAddr checks CheckAddr never panics and agrees with the oracle on
// addresses parsed from text and built from raw bytes (4 and 16 bytes).
func FuzzCheckAddr(f *testing.F) {
	for _, tc := range refusedForms {
		f.Add(tc.addr, []byte(nil))
	}
	for _, s := range allowedForms {
		f.Add(s, []byte(nil))
	}
	f.Add("", []byte{127, 0, 0, 1})
	f.Add("", []byte{0x20, 0x02, 0x7f, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add("fe80::1%25eth0", []byte{0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 127, 0, 0, 1})
	f.Fuzz(func(t *testing.T, s string, raw []byte) {
		if a, err := netip.ParseAddr(s); err == nil {
			checkAgainstOracle(t, a)
		}
		if len(raw) >= 16 {
			checkAgainstOracle(t, netip.AddrFrom16([16]byte(raw[:16])))
		}
		if len(raw) >= 4 {
			checkAgainstOracle(t, netip.AddrFrom4([4]byte(raw[:4])))
		}
	})
}

// FuzzControl feeds arbitrary dial addresses to Control: it must never
// panic, must refuse what it cannot parse, and must agree with CheckAddr
// on what it can.
func FuzzControl(f *testing.F) {
	for _, s := range []string{
		"10.0.0.1:443", "[fe80::1%lo]:80", "[fe80::1%]:80", "[::ffff:127.0.0.1]:80",
		"8.8.8.8:443", "[2606:4700:4700::1111]:443", "", ":", "[]:80", "[::1", "1.2.3.4:99999",
		"example.com:443", "[64:ff9b::7f00:1]:1", "%:%", "[::%25eth0]:0",
	} {
		f.Add(s)
	}
	allow := Policy{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, AllowHosts: []string{"x"}}
	f.Fuzz(func(t *testing.T, address string) {
		for _, p := range []Policy{{}, allow} {
			err := p.Control("tcp", address, nil)
			if err != nil && !IsRefused(err) {
				t.Fatalf("Control(%q): got %v, want nil or ErrRefused", address, err)
			}
			ap, perr := netip.ParseAddrPort(address)
			if perr != nil {
				if err == nil {
					t.Fatalf("Control(%q): got nil for an unparseable address", address)
				}
				continue
			}
			if got, want := err == nil, p.CheckAddr(ap.Addr()) == nil; got != want {
				t.Fatalf("Control(%q): got %v, want allowed=%v", address, err, want)
			}
		}
	})
}

// FuzzParseAllowList checks the allow-list parser never panics and that
// what it accepts is well formed.
func FuzzParseAllowList(f *testing.F) {
	for _, s := range []string{"", "127.0.0.0/8,::1", "receiver.internal", "10.0.0.256", "a,,b", "fe80::1%eth0", "::ffff:1.2.3.4/120"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		p, err := ParseAllowList(list)
		if err != nil {
			if p.IsUnsafe() {
				t.Fatalf("ParseAllowList(%q): got %+v with error, want zero Policy", list, p)
			}
			return
		}
		for _, pfx := range p.AllowPrefixes {
			if !pfx.IsValid() || pfx != pfx.Masked() {
				t.Fatalf("ParseAllowList(%q): prefix %v not valid and masked", list, pfx)
			}
		}
		for _, h := range p.AllowHosts {
			if h == "" || h != strings.ToLower(h) || strings.ContainsAny(h, ":/ ,%[]") {
				t.Fatalf("ParseAllowList(%q): bad host %q", list, h)
			}
		}
		_ = p.String()
	})
}
