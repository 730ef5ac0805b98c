package service

import (
	"errors"
	"fmt"
	"net"
)

// Address is a listen address and the setting it comes from, so that a
// clash can say which setting to change.
type Address struct {
	// Setting names the variable, e.g. DELIVERER_OPS_ADDR.
	Setting string
	// Addr is host:port; port 0 picks a free port. Empty disables the
	// listener when Optional.
	Addr string
	// Optional says that an empty Addr disables the listener; the error
	// of a clash says so.
	Optional bool
}

// ListenError is an address that could not be listened on: another process
// holds it (errors.Is(err, syscall.EADDRINUSE)), or it is not allowed. Its
// message names the setting and its value and says what to do.
type ListenError struct {
	Address
	// Err is the listen error.
	Err error
}

// Error names the setting, its value, the cause and the remedy.
func (e *ListenError) Error() string {
	what := "set " + e.Setting + " to a free address (host:port; port 0 picks one)"
	if e.Optional {
		what += ", or empty to disable it"
	}
	return fmt.Sprintf("%s=%s: cannot listen (%v); %s", e.Setting, e.Addr, e.Err, what)
}

// Unwrap returns Err.
func (e *ListenError) Unwrap() error { return e.Err }

// Listen binds every address, in order, so that a process can bind its
// listeners before it connects to anything or starts an embedded server:
// an address in use then stops it before it has started. It returns one
// listener per address, nil for an empty optional one. When any address
// cannot be bound it closes the others and returns every failure joined,
// each a *ListenError; a required address that is empty is one too.
func Listen(addrs ...Address) ([]net.Listener, error) {
	lns := make([]net.Listener, len(addrs))
	var errs []error
	for i, a := range addrs {
		if a.Addr == "" {
			if !a.Optional {
				errs = append(errs, &ListenError{Address: a, Err: errors.New("no address")})
			}
			continue
		}
		ln, err := net.Listen("tcp", a.Addr)
		if err != nil {
			errs = append(errs, &ListenError{Address: a, Err: err})
			continue
		}
		lns[i] = ln
	}
	if len(errs) > 0 {
		CloseListeners(lns)
		return nil, errors.Join(errs...)
	}
	return lns, nil
}

// CloseListeners closes every listener that is not nil; closing one
// already closed (by the server that used it) is harmless.
func CloseListeners(lns []net.Listener) {
	for _, ln := range lns {
		if ln != nil {
			_ = ln.Close()
		}
	}
}
