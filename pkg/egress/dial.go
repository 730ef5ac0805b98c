package egress

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

// Control checks, for net.Dialer.Control, the address about to be
// connected: it is called after the socket is created and before
// connect(2), once per candidate address, with the resolved IP. address is
// "ip:port" (IPv6 in brackets, possibly with a zone, e.g. "[fe80::1%lo]:80").
// It returns nil if [Policy.CheckAddr] allows the IP, a *[RefusedError]
// otherwise, and also a *RefusedError when address cannot be parsed. c and
// network are not used. It never panics on malformed input.
//
// Checking here, rather than on the URL, is what defeats DNS rebinding: the
// check sees the address the kernel will actually connect to.
func (p Policy) Control(network, address string, c syscall.RawConn) error {
	return p.check("", address)
}

// check is Control with the host name being dialed, for the error.
func (p Policy) check(host, address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &RefusedError{Host: host, Reason: "unparseable dial address " + quoteShort(address)}
	}
	if r := p.reason(ap.Addr()); r != "" {
		return &RefusedError{Host: host, Addr: ap.Addr(), Reason: r}
	}
	return nil
}

// DialContext returns a dial function for http.Transport.DialContext built
// on a copy of d (taken now; a nil d means a zero net.Dialer). For each
// dial:
//
//   - if the host part of addr is in AllowHosts, it dials with the copy of
//     d as is: no policy check (UNSAFE, by the operator's choice);
//   - otherwise it dials with a copy of d whose Control (or ControlContext,
//     if d has one) first applies [Policy.Control] to every address tried
//     and then calls d's own function, if any.
//
// A refused dial fails before any packet is sent, with a *net.OpError
// wrapping a *[RefusedError] that names the host; test it with [IsRefused].
// When a name resolves to several addresses, refused ones are skipped like
// unreachable ones and the dial succeeds on an allowed one, if any.
func (p Policy) DialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var base net.Dialer
	if d != nil {
		base = *d
	}
	p = p.clone()
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err == nil && p.hostAllowed(host) {
			return base.DialContext(ctx, network, addr)
		}
		if _, err := netip.ParseAddr(host); err == nil {
			host = "" // an IP literal: the error's Addr already says it
		}
		guarded := base
		p.guard(&guarded, host)
		return guarded.DialContext(ctx, network, addr)
	}
}

// guard installs the policy check on d, chaining d's own Control or
// ControlContext after it. host is only used in the error.
func (p Policy) guard(d *net.Dialer, host string) {
	if next := d.ControlContext; next != nil {
		d.ControlContext = func(ctx context.Context, network, address string, c syscall.RawConn) error {
			if err := p.check(host, address); err != nil {
				return err
			}
			return next(ctx, network, address, c)
		}
		return
	}
	next := d.Control
	d.Control = func(network, address string, c syscall.RawConn) error {
		if err := p.check(host, address); err != nil {
			return err
		}
		if next != nil {
			return next(network, address, c)
		}
		return nil
	}
}

// quoteShort quotes s for an error message, cut to 64 bytes so hostile
// input cannot blow up a log line.
func quoteShort(s string) string {
	const limit = 64
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return strconv.Quote(s)
}
