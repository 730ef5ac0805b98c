package main

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"github.com/sixtyfour-oss/webhooks/internal/embedded"
)

// flagAddrError is an address given by flag that cannot be listened on
// (another process holds it, or it is not allowed). It names the flag.
type flagAddrError struct {
	// Flag is the flag's name, without the dash.
	Flag string
	// Addr is the address it gave.
	Addr string
	// Err is the listen error (errors.Is(err, syscall.EADDRINUSE) when taken).
	Err error
}

// Error names the flag, its value, the cause and the remedy.
func (e *flagAddrError) Error() string {
	return fmt.Sprintf("-%s %s: cannot listen (%v); choose another with -%s, or leave -%s out to let the quickstart pick a free port",
		e.Flag, e.Addr, e.Err, e.Flag, e.Flag)
}

// Unwrap returns Err.
func (e *flagAddrError) Unwrap() error { return e.Err }

// listener is one address the quickstart listens on.
type listener struct {
	net.Listener
	// taken is the default address it replaced because it was in use;
	// empty when it listens where it was asked to.
	taken string
}

// note says, for the banner, which default the listener replaced.
func (l listener) note() string {
	if l.taken == "" {
		return ""
	}
	return "; " + l.taken + " was taken"
}

// listen binds the address of flag name, addr. An address given on the
// command line (explicit) is used as given, and an error names the flag.
// The default address, when another process holds it, is replaced by a
// free port on the same host.
func listen(name, addr string, explicit bool) (listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return listener{Listener: ln}, nil
	}
	if explicit || !errors.Is(err, syscall.EADDRINUSE) {
		return listener{}, &flagAddrError{Flag: name, Addr: addr, Err: err}
	}
	host, _, serr := net.SplitHostPort(addr)
	if serr != nil {
		return listener{}, &flagAddrError{Flag: name, Addr: addr, Err: err}
	}
	ln, ferr := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if ferr != nil {
		return listener{}, &flagAddrError{Flag: name, Addr: addr, Err: errors.Join(err, ferr)}
	}
	return listener{Listener: ln, taken: addr}, nil
}

// embeddedPort returns the port for the embedded server: -nats-port, or,
// when it is the default and another process holds it, -1 (any free port)
// and the address that was taken. A port given on the command line that is
// taken is an error naming -nats-port. The port is only tried here; the
// server binds it a moment later.
func embeddedPort(port int, explicit bool) (int, string, error) {
	if port <= 0 {
		return port, "", nil
	}
	addr := net.JoinHostPort(embedded.DefaultHost, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	switch {
	case err == nil:
		return port, "", ln.Close()
	case explicit || !errors.Is(err, syscall.EADDRINUSE):
		return 0, "", &flagAddrError{Flag: "nats-port", Addr: strconv.Itoa(port), Err: err}
	}
	return -1, addr, nil
}

// listeners are the demo's addresses, all bound before anything starts, so
// that an address given by flag that is taken stops it at once.
type listeners struct {
	receiver, publisher, ops listener // ops.Listener is nil with -ops ""
	console                  listener // nil with -console ""
	// natsPort is the embedded server's port and natsTaken the default
	// address it replaced; unused with NATS_URL.
	natsPort  int
	natsTaken string
}

// bindListeners binds the receiver, publisher, ops and console addresses and, for
// an embedded server, chooses its port (see listen and embeddedPort).
func bindListeners(o options, embedded bool) (*listeners, error) {
	l := &listeners{}
	var err error
	if l.receiver, err = listen("receiver", o.receiverAddr, o.explicit["receiver"]); err != nil {
		return nil, err
	}
	if l.publisher, err = listen("publisher", o.ingestAddr, o.explicit["publisher"]); err == nil && o.opsAddr != "" {
		l.ops, err = listen("ops", o.opsAddr, o.explicit["ops"])
	}
	if err == nil && o.consoleAddr != "" {
		l.console, err = listen("console", o.consoleAddr, o.explicit["console"])
	}
	if err == nil && embedded {
		l.natsPort, l.natsTaken, err = embeddedPort(o.natsPort, o.explicit["nats-port"])
	}
	if err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

// close closes every listener (one a server closed already is harmless).
func (l *listeners) close() {
	for _, ln := range []net.Listener{l.receiver.Listener, l.publisher.Listener, l.ops.Listener, l.console.Listener} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

// natsNote says, for the banner, which default port the embedded server
// replaced.
func (l *listeners) natsNote() string {
	if l.natsTaken == "" {
		return ""
	}
	return "; " + l.natsTaken + " was taken"
}
