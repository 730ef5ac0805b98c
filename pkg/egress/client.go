package egress

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"time"
)

// Defaults for [ClientConfig]; a zero or negative field takes its default.
const (
	// MaxIdleConnsPerHostDefault is the default number of idle (keep-alive)
	// connections kept per destination host.
	MaxIdleConnsPerHostDefault = 64
	// IdleConnTimeoutDefault is the default time an idle connection is kept
	// before it is closed.
	IdleConnTimeoutDefault = 90 * time.Second
	// DialTimeoutDefault is the default limit for one TCP connect (per
	// address tried), on top of the request context's deadline.
	DialTimeoutDefault = 5 * time.Second
	// TLSHandshakeTimeoutDefault is the default limit for the TLS handshake.
	TLSHandshakeTimeoutDefault = 10 * time.Second
	// MaxIdleConns is the limit on idle connections across all hosts: large,
	// because a deliverer talks to many destinations and the per-host limit
	// is the one that matters.
	MaxIdleConns = 4096
	// KeepAlive is the TCP keep-alive probe interval of dialed connections.
	KeepAlive = 30 * time.Second
	// MaxResponseHeaderBytesDefault caps the response headers read per
	// attempt (net/http's own default is 10 MiB, which a hostile receiver
	// streaming endless headers would make every attempt buffer).
	MaxResponseHeaderBytesDefault = 64 << 10
)

// ClientConfig tunes the transport built by [NewTransport] and [NewClient].
// The zero value is ready to use: every field defaults as documented.
// Per-attempt timeouts are not set here: they come from each request's
// context, which covers connect, TLS, headers and body.
type ClientConfig struct {
	// MaxIdleConnsPerHost is the number of idle connections kept per host.
	// Defaults to MaxIdleConnsPerHostDefault (64).
	MaxIdleConnsPerHost int
	// IdleConnTimeout is how long an idle connection is kept. Defaults to
	// IdleConnTimeoutDefault (90s).
	IdleConnTimeout time.Duration
	// DialTimeout limits one TCP connect. Defaults to DialTimeoutDefault (5s).
	DialTimeout time.Duration
	// TLSHandshakeTimeout limits the TLS handshake. Defaults to
	// TLSHandshakeTimeoutDefault (10s).
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout limits the wait for response headers after the
	// request is written. Defaults to 0: no limit of its own, the request
	// context's deadline applies.
	ResponseHeaderTimeout time.Duration
	// MaxResponseHeaderBytes caps the response headers, in bytes. Defaults
	// to MaxResponseHeaderBytesDefault (64 KiB).
	MaxResponseHeaderBytes int64
	// RootCAs, if set, replaces the system roots for verifying servers
	// (tests with httptest TLS servers). Defaults to nil: system roots.
	RootCAs *x509.CertPool
}

// withDefaults returns cfg with zero or negative fields set to defaults.
func (cfg ClientConfig) withDefaults() ClientConfig {
	if cfg.MaxIdleConnsPerHost <= 0 {
		cfg.MaxIdleConnsPerHost = MaxIdleConnsPerHostDefault
	}
	if cfg.IdleConnTimeout <= 0 {
		cfg.IdleConnTimeout = IdleConnTimeoutDefault
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DialTimeoutDefault
	}
	if cfg.TLSHandshakeTimeout <= 0 {
		cfg.TLSHandshakeTimeout = TLSHandshakeTimeoutDefault
	}
	if cfg.MaxResponseHeaderBytes <= 0 {
		cfg.MaxResponseHeaderBytes = MaxResponseHeaderBytesDefault
	}
	if cfg.ResponseHeaderTimeout < 0 {
		cfg.ResponseHeaderTimeout = 0
	}
	return cfg
}

// NewTransport returns an http.Transport whose every connection goes
// through p ([Policy.DialContext]) and which:
//
//   - never uses a proxy (Proxy is nil; HTTP_PROXY, HTTPS_PROXY and
//     NO_PROXY are ignored), so the guard sees the real destination;
//   - still negotiates HTTP/2 over TLS (ForceAttemptHTTP2, which a custom
//     dial function would otherwise turn off);
//   - requires TLS 1.2 or later and verifies certificates against
//     cfg.RootCAs or the system roots;
//   - does not ask for compressed responses (DisableCompression), so
//     response excerpts are the bytes the receiver sent.
//
// Limits and timeouts come from cfg (see [ClientConfig] for defaults).
func NewTransport(p Policy, cfg ClientConfig) *http.Transport {
	cfg = cfg.withDefaults()
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: KeepAlive}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            p.DialContext(dialer),
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           MaxIdleConns,
		MaxIdleConnsPerHost:    cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:        cfg.IdleConnTimeout,
		TLSHandshakeTimeout:    cfg.TLSHandshakeTimeout,
		ResponseHeaderTimeout:  cfg.ResponseHeaderTimeout,
		MaxResponseHeaderBytes: cfg.MaxResponseHeaderBytes,
		DisableCompression:     true,
		TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			RootCAs:    cfg.RootCAs,
		},
	}
}

// NewClient returns an http.Client over [NewTransport](p, cfg) that never
// follows redirects: a 3xx is returned as the response (its body open, to
// be closed by the caller), so a signed body is never re-sent to another
// URL. It has no overall Timeout: bound each attempt with the request's
// context. Call CloseIdleConnections when done with it.
func NewClient(p Policy, cfg ClientConfig) *http.Client {
	return &http.Client{
		Transport: NewTransport(p, cfg),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
