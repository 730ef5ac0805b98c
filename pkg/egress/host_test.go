package egress

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// fakeResolver is a Resolver made of a function field.
type fakeResolver struct {
	lookupNetIP func(ctx context.Context, network, host string) ([]netip.Addr, error)
}

func (f fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return f.lookupNetIP(ctx, network, host)
}

// resolveTo returns a fakeResolver that answers every lookup with addrs and
// records the hosts it was asked for.
func resolveTo(asked *[]string, addrs ...string) fakeResolver {
	return fakeResolver{lookupNetIP: func(_ context.Context, network, host string) ([]netip.Addr, error) {
		*asked = append(*asked, network+" "+host)
		out := make([]netip.Addr, len(addrs))
		for i, s := range addrs {
			out[i] = netip.MustParseAddr(s)
		}
		return out, nil
	}}
}

func TestCheckHost(t *testing.T) {
	errDNS := errors.New("no such host")
	failing := fakeResolver{lookupNetIP: func(context.Context, string, string) ([]netip.Addr, error) {
		return nil, errDNS
	}}
	allowHosts := Policy{AllowHosts: []string{"receiver.internal"}}
	tests := []struct {
		name        string
		policy      Policy
		host        string
		addrs       []string // nil: use the failing resolver
		wantRefused bool
		wantErr     string // substring; "" means nil error
		wantLookups int
	}{
		{"all public", Policy{}, "example.com", []string{"93.184.216.34", "2606:4700:4700::1111"}, false, "", 1},
		{"resolver returns mapped public", Policy{}, "example.com", []string{"::ffff:93.184.216.34"}, false, "", 1},
		{"one private among several", Policy{}, "rebind.example", []string{"8.8.8.8", "10.0.0.1", "1.1.1.1"}, true, `host "rebind.example" address 10.0.0.1: private 10.0.0.0/8`, 1},
		{"mapped private from resolver is unmapped", Policy{}, "a.example", []string{"::ffff:127.0.0.1"}, true, "address 127.0.0.1: loopback", 1},
		{"metadata v6", Policy{}, "imds.example", []string{"fd00:ec2::254"}, true, "metadata", 1},
		{"public ip literal", Policy{}, "8.8.8.8", nil, false, "", 0},
		{"private ip literal", Policy{}, "192.168.1.1", nil, true, "private 192.168.0.0/16", 0},
		{"bracketed ipv6 literal", Policy{}, "[::1]", nil, true, "loopback ::1/128", 0},
		{"zone-scoped literal", Policy{}, "fe80::1%eth0", nil, true, "zone-scoped", 0},
		{"resolution error", Policy{}, "nx.example", nil, false, `cannot resolve host "nx.example": no such host`, 1},
		{"no addresses", Policy{}, "empty.example", []string{}, false, `cannot resolve host "empty.example": no addresses`, 1},
		{"empty host", Policy{}, "", nil, true, "empty host", 0},
		{"allowed host not resolved", allowHosts, "Receiver.Internal", nil, false, "", 0},
		{"other host still checked", allowHosts, "other.internal", []string{"10.0.0.1"}, true, "private", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var asked []string
			var r Resolver
			if tc.addrs != nil {
				r = resolveTo(&asked, tc.addrs...)
			} else {
				r = fakeResolver{lookupNetIP: func(ctx context.Context, network, host string) ([]netip.Addr, error) {
					asked = append(asked, network+" "+host)
					return failing.LookupNetIP(ctx, network, host)
				}}
			}
			err := tc.policy.CheckHost(t.Context(), tc.host, r)
			if got, want := IsRefused(err), tc.wantRefused; got != want {
				t.Errorf("IsRefused(%v): got %v, want %v", err, got, want)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("CheckHost(%q): got %v, want nil", tc.host, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("CheckHost(%q): got %v, want error containing %q", tc.host, err, tc.wantErr)
			}
			if got, want := len(asked), tc.wantLookups; got != want {
				t.Errorf("lookups: got %d (%v), want %d", got, asked, want)
			}
			for _, q := range asked {
				if !strings.HasPrefix(q, "ip ") {
					t.Errorf("lookup network: got %q, want network \"ip\"", q)
				}
			}
		})
	}
}

func TestCheckHostResolutionErrorIsWrapped(t *testing.T) {
	errDNS := errors.New("servfail")
	r := fakeResolver{lookupNetIP: func(context.Context, string, string) ([]netip.Addr, error) { return nil, errDNS }}
	err := Policy{}.CheckHost(t.Context(), "x.example", r)
	if !errors.Is(err, errDNS) {
		t.Errorf("errors.Is(err, resolver error): got false for %v, want true", err)
	}
	if errors.Is(err, ErrRefused) {
		t.Errorf("errors.Is(err, ErrRefused): got true, want false")
	}
}
