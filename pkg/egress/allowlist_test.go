package egress

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParseAllowList(t *testing.T) {
	tests := []struct {
		name         string
		list         string
		wantPrefixes []string
		wantHosts    []string
	}{
		{"empty", "", nil, nil},
		{"blanks and empty entries", " , ,", nil, nil},
		{"ipv4 cidr", "127.0.0.0/8", []string{"127.0.0.0/8"}, nil},
		{"ipv6 cidr", "::1/128", []string{"::1/128"}, nil},
		{"cidr is masked", "10.1.2.3/8", []string{"10.0.0.0/8"}, nil},
		{"single ipv4", "127.0.0.1", []string{"127.0.0.1/32"}, nil},
		{"single ipv6", "fd00::1", []string{"fd00::1/128"}, nil},
		{"mapped ipv4 becomes ipv4", "::ffff:10.0.0.1", []string{"10.0.0.1/32"}, nil},
		{"host", "receiver.internal", nil, []string{"receiver.internal"}},
		{"host lower-cased, trailing dot dropped", "Receiver.Internal.", nil, []string{"receiver.internal"}},
		{"single-label host", "localhost", nil, []string{"localhost"}},
		{"mixed with spaces", " 127.0.0.0/8 , ::1 ,receiver.internal,10.0.0.5 ",
			[]string{"127.0.0.0/8", "::1/128", "10.0.0.5/32"}, []string{"receiver.internal"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseAllowList(tc.list)
			if err != nil {
				t.Fatalf("ParseAllowList(%q): got error %v, want nil", tc.list, err)
			}
			var gotPrefixes []string
			for _, pfx := range p.AllowPrefixes {
				gotPrefixes = append(gotPrefixes, pfx.String())
			}
			if !slices.Equal(gotPrefixes, tc.wantPrefixes) {
				t.Errorf("AllowPrefixes: got %v, want %v", gotPrefixes, tc.wantPrefixes)
			}
			if !slices.Equal(p.AllowHosts, tc.wantHosts) {
				t.Errorf("AllowHosts: got %v, want %v", p.AllowHosts, tc.wantHosts)
			}
			if got, want := p.IsUnsafe(), tc.wantPrefixes != nil || tc.wantHosts != nil; got != want {
				t.Errorf("IsUnsafe: got %v, want %v", got, want)
			}
		})
	}
}

func TestParseAllowListErrors(t *testing.T) {
	tests := []struct {
		name, list, badEntry string
	}{
		{"bad prefix length", "127.0.0.0/33", "127.0.0.0/33"},
		{"bad prefix address", "127.0.0/8", "127.0.0/8"},
		{"url", "http://receiver.internal", "http://receiver.internal"},
		{"host with port", "receiver.internal:8080", "receiver.internal:8080"},
		{"mistyped ipv4", "10.0.0.256", "10.0.0.256"},
		{"zone", "fe80::1%eth0", "fe80::1%eth0"},
		{"space inside", "receiver internal", "receiver internal"},
		{"leading hyphen", "-bad.example", "-bad.example"},
		{"empty label", "bad..example", "bad..example"},
		{"bad after good", "127.0.0.1, ::1, not_ok!", "not_ok!"},
		{"label too long", strings.Repeat("a", 64) + ".example", strings.Repeat("a", 64) + ".example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseAllowList(tc.list)
			if err == nil {
				t.Fatalf("ParseAllowList(%q): got %+v, want an error", tc.list, p)
			}
			if !strings.Contains(err.Error(), `"`+tc.badEntry+`"`) {
				t.Errorf("error: got %q, want it to name %q", err, tc.badEntry)
			}
			if p.IsUnsafe() {
				t.Errorf("policy on error: got %+v, want zero", p)
			}
		})
	}
}

func TestAllowListLetsLoopbackThrough(t *testing.T) {
	p, err := ParseAllowList("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr("127.0.0.1")
	if err := p.CheckAddr(a); err != nil {
		t.Errorf("CheckAddr(127.0.0.1) with allow-list: got %v, want nil", err)
	}
	if err := (Policy{}).CheckAddr(a); !IsRefused(err) {
		t.Errorf("CheckAddr(127.0.0.1) without allow-list: got %v, want ErrRefused", err)
	}
}

func TestHostAllowed(t *testing.T) {
	p := Policy{AllowHosts: []string{"Receiver.Internal", "dotted.example."}}
	tests := []struct {
		host string
		want bool
	}{
		{"receiver.internal", true},
		{"RECEIVER.internal", true},
		{"receiver.internal.", true},
		{"dotted.example", true},
		{"sub.receiver.internal", false},
		{"receiver.internal.evil.example", false},
		{"", false},
		{".", false},
	}
	for _, tc := range tests {
		if got := p.hostAllowed(tc.host); got != tc.want {
			t.Errorf("hostAllowed(%q): got %v, want %v", tc.host, got, tc.want)
		}
	}
}
