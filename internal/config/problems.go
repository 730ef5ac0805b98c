package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ErrInvalid is wrapped by every error that Load, Check and the settings'
// Validate methods return: a setting is missing or wrong, and nothing has
// been started. The commands exit with status 2 on it (ExitStatus).
var ErrInvalid = errors.New("invalid configuration")

// SettingError is one problem with one environment variable.
type SettingError struct {
	// Name is the variable, e.g. STREAMS_REPLICAS.
	Name string
	// Err says what is wrong and what is wanted. It never holds the value
	// of a secret (keys, tokens, passwords).
	Err error
}

// Error returns "NAME: what is wrong".
func (e *SettingError) Error() string { return e.Name + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *SettingError) Unwrap() error { return e.Err }

// Bad returns a *SettingError for the variable name, its message formatted
// like fmt.Errorf (so %w works).
func Bad(name, format string, args ...any) error {
	return &SettingError{Name: name, Err: fmt.Errorf(format, args...)}
}

// Problems is every problem found in the settings, so that one start-up
// reports them all at once instead of one per attempt. errors.Is(p,
// ErrInvalid) holds, and errors.Is and errors.As see each problem (such as
// ErrNoMasterKey or a *SettingError).
type Problems []error

// Error lists the problems, one a line after the first when there are
// several.
func (p Problems) Error() string {
	if len(p) == 1 {
		return "configuration: " + p[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "configuration: %d problems:", len(p))
	for _, e := range p {
		b.WriteString("\n  - ")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the problems.
func (p Problems) Unwrap() []error { return p }

// Is reports whether target is ErrInvalid.
func (p Problems) Is(target error) bool { return target == ErrInvalid }

// Check gathers problems into one error: nil ones are skipped, and errors
// made of several (Problems, errors.Join) are flattened. It returns nil
// when there is no problem, else Problems.
func Check(errs ...error) error {
	var out Problems
	for _, err := range errs {
		out = appendFlat(out, err)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// appendFlat appends err, or each error it joins, to p.
func appendFlat(p Problems, err error) Problems {
	if err == nil {
		return p
	}
	if many, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range many.Unwrap() {
			p = appendFlat(p, e)
		}
		return p
	}
	return append(p, err)
}

// ExitStatus is the process exit status for the error a command's run
// returned: 0 for nil, 2 for a configuration error (ErrInvalid: nothing
// was started, fix the settings), 1 for any other failure.
func ExitStatus(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrInvalid):
		return 2
	default:
		return 1
	}
}

// CheckAddr checks the syntax of the listen address in variable name:
// host:port with a numeric port (0 picks a free one); an empty host means
// every interface. With optional, empty is allowed (it disables the
// listener); otherwise it is required. It does not listen: see
// service.Listen for addresses in use.
func CheckAddr(name, addr string, optional bool) error {
	if addr == "" {
		if optional {
			return nil
		}
		return Bad(name, "is required: host:port to listen on, such as 127.0.0.1:8080")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return Bad(name, "%q is not host:port (such as 127.0.0.1:8080; port 0 picks a free port)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return Bad(name, "%q: port %q, want 0..65535 (0 picks a free port)", addr, port)
	}
	return nil
}
