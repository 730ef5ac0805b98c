package ssrf

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
)

// canary is an HTTP listener on an address the deliverer must never reach.
// It counts every TCP connection it accepts (not only HTTP requests).
type canary struct {
	addr  string // host:port it listens on
	probe string // host:port a test dials to reach it

	mu       sync.Mutex
	accepted []netip.AddrPort // remote address of every accepted connection
	requests int
}

// countingListener records every accepted connection on its canary.
type countingListener struct {
	net.Listener
	c *canary
}

func (l countingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	remote, _ := netip.ParseAddrPort(conn.RemoteAddr().String())
	l.c.mu.Lock()
	l.c.accepted = append(l.c.accepted, normalize(remote))
	l.c.mu.Unlock()
	return conn, nil
}

// normalize unmaps an IPv4-mapped address, so that both ends of a
// connection name it the same way.
func normalize(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// startCanary listens on addr and serves until the test ends. The address
// may need a moment after `ip addr add` (IPv6 duplicate address detection),
// so listening is retried for a few seconds.
func startCanary(t *testing.T, addr, probe string) *canary {
	t.Helper()
	var ln net.Listener
	jstest.Eventually(t, 5*time.Second, func() bool {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err == nil
	}, "listening on canary %s", addr)
	c := &canary{addr: addr, probe: probe}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.mu.Lock()
			c.requests++
			c.mu.Unlock()
			_, _ = io.WriteString(w, "canary "+addr+" reached\n")
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(countingListener{ln, c}); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("canary %s: %v", addr, err)
		}
	}()
	t.Cleanup(func() { srv.Close(); <-done })
	return c
}

// intruders returns the connections the canary accepted other than the
// test's own probes. It first dials a probe and waits until the canary has
// accepted it: connections are accepted in the order they were made, so
// every connection made before the probe has been counted by then.
func (c *canary) intruders(t *testing.T) (conns []netip.AddrPort, requests int) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", c.probe, 5*time.Second)
	if err != nil {
		t.Fatalf("probe of canary %s: %v", c.addr, err)
	}
	defer conn.Close()
	local, err := netip.ParseAddrPort(conn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	local = normalize(local)
	seen := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, a := range c.accepted {
			if a == local {
				return true
			}
		}
		return false
	}
	jstest.Eventually(t, 5*time.Second, seen, "canary %s accepting its probe", c.addr)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.accepted {
		if a != local {
			conns = append(conns, a)
		}
	}
	return conns, c.requests
}

// canaryHosts are the addresses the namespace puts on its loopback
// interface, with the host names /etc/hosts gives them. 127.0.0.2 needs no
// address: all of 127.0.0.0/8 is local, and the deliverer's allow-list only
// opens 127.0.0.1/32.
var canaryHosts = []struct {
	addr string // as added to lo (empty prefix: nothing to add)
	ip   string
	name string
}{
	{"10.99.0.1/32", "10.99.0.1", "canary-private.test"},
	{"100.64.0.7/32", "100.64.0.7", "canary-cgnat.test"},
	{"169.254.169.254/32", "169.254.169.254", "canary-metadata.test"},
	{"fd00:ec2::254/128", "fd00:ec2::254", "canary-v6.test"},
	{"", "127.0.0.2", "canary-loopback.test"},
}

// canaryPorts are the ports every canary host listens on.
var canaryPorts = []string{"80", "443", "8080"}

// wildcardPort is served by a canary on the unspecified address [::] (all
// local addresses, IPv4 too): what http://0.0.0.0:9090/ or
// http://[::]:9090/ would reach, since connecting to the unspecified
// address reaches the local host.
const wildcardPort = "9090"

// startCanaries starts every canary.
func startCanaries(t *testing.T) []*canary {
	t.Helper()
	var all []*canary
	for _, h := range canaryHosts {
		for _, port := range canaryPorts {
			addr := net.JoinHostPort(h.ip, port)
			all = append(all, startCanary(t, addr, addr))
		}
	}
	return append(all, startCanary(t, net.JoinHostPort("::", wildcardPort), net.JoinHostPort("127.0.0.1", wildcardPort)))
}
