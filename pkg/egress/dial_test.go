package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
)

// TestControl is the DNS-rebinding defence at its narrowest: whatever a
// name resolved to, Control sees the address about to be connected.
func TestControl(t *testing.T) {
	loopback := Policy{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	tests := []struct {
		name    string
		policy  Policy
		network string
		address string
		wantErr string // reason substring; "" means allowed
	}{
		{"rebound to private", Policy{}, "tcp4", "10.0.0.1:443", "private 10.0.0.0/8"},
		{"zone-scoped link-local", Policy{}, "tcp6", "[fe80::1%lo]:80", "zone-scoped"},
		{"zone-scoped numeric zone", Policy{}, "tcp6", "[fe80::1%1]:80", "zone-scoped"},
		{"mapped loopback", Policy{}, "tcp6", "[::ffff:127.0.0.1]:80", "IPv4-mapped form of 127.0.0.1"},
		{"metadata", Policy{}, "tcp4", "169.254.169.254:80", "metadata"},
		{"nat64 loopback", Policy{}, "tcp6", "[64:ff9b::7f00:1]:443", "form of 127.0.0.1"},
		{"v6 loopback", Policy{}, "tcp6", "[::1]:0", "loopback ::1/128"},
		{"public v4", Policy{}, "tcp4", "8.8.8.8:443", ""},
		{"public v6", Policy{}, "tcp6", "[2606:4700:4700::1111]:443", ""},
		{"allowed loopback", loopback, "tcp4", "127.0.0.1:8080", ""},
		{"no port", Policy{}, "tcp4", "8.8.8.8", "unparseable"},
		{"host name", Policy{}, "tcp4", "example.com:443", "unparseable"},
		{"empty", Policy{}, "tcp", "", "unparseable"},
		{"unbracketed v6", Policy{}, "tcp6", "::1:80", "unparseable"},
		{"garbage", Policy{}, "tcp", "[[[%%%]]]:x", "unparseable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy.Control(tc.network, tc.address, nil)
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("Control(%q): got %v, want nil", tc.address, err)
				}
				return
			}
			if !IsRefused(err) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Control(%q): got %v, want refusal containing %q", tc.address, err, tc.wantErr)
			}
		})
	}
}

// listenLoopback starts a TCP listener on 127.0.0.1 that accepts and
// immediately closes connections, counting them. It returns the address and
// a function that reports the count after closing the listener.
func listenLoopback(t *testing.T) (addr string, accepted func() int) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := make(chan int, 1)
	go func() {
		count := 0
		for {
			c, err := ln.Accept()
			if err != nil {
				n <- count
				return
			}
			count++
			c.Close()
		}
	}()
	var done bool
	var final int
	stop := func() int {
		if !done {
			ln.Close()
			final, done = <-n, true
		}
		return final
	}
	t.Cleanup(func() { stop() })
	return ln.Addr().String(), stop
}

// waitClosedByPeer reads conn until the listener's side closes it, which
// proves the connection was accepted (and counted), then closes it.
func waitClosedByPeer(t *testing.T, conn net.Conn) {
	t.Helper()
	defer conn.Close()
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Errorf("read from accepted connection: got data, want EOF")
	}
}

func TestDialContextRefusesBeforeConnect(t *testing.T) {
	addr, accepted := listenLoopback(t)
	dial := Policy{}.DialContext(&net.Dialer{})
	conn, err := dial(t.Context(), "tcp", addr)
	if err == nil {
		conn.Close()
		t.Fatalf("dial %s: got a connection, want a refusal", addr)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) || !IsRefused(err) {
		t.Errorf("dial %s: got %T %v, want *net.OpError wrapping ErrRefused", addr, err, err)
	}
	if got := accepted(); got != 0 {
		t.Errorf("connections accepted: got %d, want 0", got)
	}
}

func TestDialContextAllowedPrefixChainsControl(t *testing.T) {
	addr, accepted := listenLoopback(t)
	p := Policy{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	var calls []string
	d := &net.Dialer{Control: func(network, address string, _ syscall.RawConn) error {
		calls = append(calls, address)
		return nil
	}}
	conn, err := p.DialContext(d)(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatalf("dial %s with 127.0.0.0/8 allowed: got %v, want a connection", addr, err)
	}
	waitClosedByPeer(t, conn)
	if got, want := len(calls), 1; got != want {
		t.Errorf("existing Control calls: got %d, want %d", got, want)
	}
	if got := accepted(); got != 1 {
		t.Errorf("connections accepted: got %d, want 1", got)
	}
	// Refused addresses never reach the chained Control.
	calls = nil
	if _, err := (Policy{}).DialContext(d)(t.Context(), "tcp", addr); !IsRefused(err) {
		t.Errorf("dial with zero policy: got %v, want ErrRefused", err)
	}
	if len(calls) != 0 {
		t.Errorf("existing Control calls after refusal: got %v, want none", calls)
	}
	if d.Control == nil || d.ControlContext != nil {
		t.Errorf("caller's dialer was modified")
	}
}

func TestDialContextChainsControlContext(t *testing.T) {
	addr, _ := listenLoopback(t)
	var called int
	d := &net.Dialer{ControlContext: func(context.Context, string, string, syscall.RawConn) error {
		called++
		return nil
	}}
	// ControlContext takes precedence over Control in net.Dialer, so the
	// guard must wrap it rather than set Control.
	_, err := Policy{}.DialContext(d)(t.Context(), "tcp", addr)
	if !IsRefused(err) {
		t.Fatalf("dial with zero policy and ControlContext: got %v, want ErrRefused", err)
	}
	if called != 0 {
		t.Errorf("ControlContext calls after refusal: got %d, want 0", called)
	}
}

func TestDialContextAllowedHostSkipsChecks(t *testing.T) {
	addr, accepted := listenLoopback(t)
	_, port, _ := net.SplitHostPort(addr)
	p := Policy{AllowHosts: []string{"LOCALHOST"}}
	// "localhost" resolves from /etc/hosts: no DNS query leaves the machine.
	conn, err := p.DialContext(&net.Dialer{})(t.Context(), "tcp4", net.JoinHostPort("localhost", port))
	if err != nil {
		t.Fatalf("dial allowed host localhost: got %v, want a connection", err)
	}
	waitClosedByPeer(t, conn)
	// The same address by IP literal is still checked.
	if _, err := p.DialContext(&net.Dialer{})(t.Context(), "tcp4", addr); !IsRefused(err) {
		t.Errorf("dial %s with only a host allowed: got %v, want ErrRefused", addr, err)
	}
	if got := accepted(); got != 1 {
		t.Errorf("connections accepted: got %d, want 1", got)
	}
}

func TestDialContextErrorNamesHost(t *testing.T) {
	addr, _ := listenLoopback(t)
	_, port, _ := net.SplitHostPort(addr)
	_, err := Policy{}.DialContext(&net.Dialer{})(t.Context(), "tcp4", net.JoinHostPort("localhost", port))
	var re *RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("dial localhost: got %v, want *RefusedError", err)
	}
	if got, want := re.Host, "localhost"; got != want {
		t.Errorf("RefusedError.Host: got %q, want %q", got, want)
	}
	if got, want := re.Addr, netip.MustParseAddr("127.0.0.1"); got != want {
		t.Errorf("RefusedError.Addr: got %v, want %v", got, want)
	}
}
