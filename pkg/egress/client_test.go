package egress

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// allowLoopback allows the loopback ranges httptest servers listen on.
var allowLoopback = Policy{AllowPrefixes: []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
}}

// countingServer is an httptest server that counts connections and requests.
type countingServer struct {
	*httptest.Server
	conns, requests atomic.Int64
}

// newCountingServer starts a loopback server answering with h (200 if nil).
func newCountingServer(t *testing.T, h http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		io.Copy(io.Discard, r.Body)
		if h != nil {
			h(w, r)
		}
	}))
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// post sends a small signed-looking POST with client and returns the response.
func post(t *testing.T, c *http.Client, target string) (*http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(`{"event":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return c.Do(req)
}

func TestClientRefusesLoopbackAtDialTime(t *testing.T) {
	srv := newCountingServer(t, nil)
	c := NewClient(Policy{}, ClientConfig{})
	defer c.CloseIdleConnections()

	resp, err := post(t, c, srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("POST %s with zero policy: got %s, want a refusal", srv.URL, resp.Status)
	}
	if !IsRefused(err) {
		t.Errorf("IsRefused(%v): got false, want true", err)
	}
	var urlErr *url.Error
	var opErr *net.OpError
	var re *RefusedError
	if !errors.As(err, &urlErr) || !errors.As(err, &opErr) || !errors.As(err, &re) {
		t.Errorf("error chain: got %#v, want *url.Error > *net.OpError > *RefusedError", err)
	} else if !re.Addr.IsLoopback() {
		t.Errorf("RefusedError.Addr: got %v, want a loopback address", re.Addr)
	}
	if got := srv.conns.Load(); got != 0 {
		t.Errorf("server connections: got %d, want 0", got)
	}
	if got := srv.requests.Load(); got != 0 {
		t.Errorf("server requests: got %d, want 0", got)
	}
}

func TestClientAllowListReachesLoopback(t *testing.T) {
	srv := newCountingServer(t, nil)
	c := NewClient(allowLoopback, ClientConfig{})
	defer c.CloseIdleConnections()

	resp, err := post(t, c, srv.URL)
	if err != nil {
		t.Fatalf("POST %s with loopback allowed: got %v, want 200", srv.URL, err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusOK; got != want {
		t.Errorf("status: got %d, want %d", got, want)
	}
	if got := srv.requests.Load(); got != 1 {
		t.Errorf("server requests: got %d, want 1", got)
	}
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	target := newCountingServer(t, nil)
	for _, code := range []int{301, 302, 303, 307, 308} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			origin := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.URL+"/elsewhere", code)
			})
			c := NewClient(allowLoopback, ClientConfig{})
			defer c.CloseIdleConnections()

			resp, err := post(t, c, origin.URL)
			if err != nil {
				t.Fatalf("POST: got %v, want the %d response", err, code)
			}
			resp.Body.Close()
			if got := resp.StatusCode; got != code {
				t.Errorf("status: got %d, want %d", got, code)
			}
			if got, want := resp.Header.Get("Location"), target.URL+"/elsewhere"; got != want {
				t.Errorf("Location: got %q, want %q", got, want)
			}
			if got := origin.requests.Load(); got != 1 {
				t.Errorf("origin requests: got %d, want 1", got)
			}
			if got := target.requests.Load(); got != 0 {
				t.Errorf("redirect target requests: got %d, want 0", got)
			}
		})
	}
}

// TestClientIgnoresProxyEnvironment points the proxy variables at a loopback
// listener and checks that the transport dials the real destination. The
// transport's dial function is replaced by a recorder that only ever dials
// the loopback proxy, so no packet and no DNS query leaves the machine.
func TestClientIgnoresProxyEnvironment(t *testing.T) {
	proxyAddr, proxyConns := listenLoopback(t)
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		t.Setenv(k, "http://"+proxyAddr)
	}
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")

	tr := NewTransport(Policy{}, ClientConfig{})
	defer tr.CloseIdleConnections()
	if tr.Proxy != nil {
		t.Errorf("Transport.Proxy: got a function, want nil")
	}
	var dialed []string
	errNoDial := errors.New("test: not dialing")
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = append(dialed, addr)
		if addr == proxyAddr {
			return d.DialContext(ctx, network, addr)
		}
		return nil, errNoDial
	}
	c := &http.Client{Transport: tr}
	for _, target := range []string{"http://receiver.example:8080/hook", "https://receiver.example/hook"} {
		resp, err := post(t, c, target)
		if err == nil {
			resp.Body.Close()
		}
		if !errors.Is(err, errNoDial) {
			t.Errorf("POST %s: got %v, want the recorder's error", target, err)
		}
	}
	if got, want := strings.Join(dialed, " "), "receiver.example:8080 receiver.example:443"; got != want {
		t.Errorf("dialed: got %q, want %q", got, want)
	}
	if got := proxyConns(); got != 0 {
		t.Errorf("proxy connections: got %d, want 0", got)
	}
}

func TestClientHTTP2OverTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	cfg := ClientConfig{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}

	c := NewClient(allowLoopback, cfg)
	defer c.CloseIdleConnections()
	resp, err := post(t, c, srv.URL)
	if err != nil {
		t.Fatalf("POST %s: got %v, want 200", srv.URL, err)
	}
	resp.Body.Close()
	if got, want := resp.ProtoMajor, 2; got != want {
		t.Errorf("protocol: got %s, want HTTP/%d", resp.Proto, want)
	}

	refusing := NewClient(Policy{}, cfg)
	defer refusing.CloseIdleConnections()
	if resp, err := post(t, refusing, srv.URL); !IsRefused(err) {
		if err == nil {
			resp.Body.Close()
		}
		t.Errorf("POST %s with zero policy: got %v, want ErrRefused", srv.URL, err)
	}
}

func TestNewTransportSettings(t *testing.T) {
	tests := []struct {
		name        string
		cfg         ClientConfig
		wantPerHost int
		wantIdle    time.Duration
		wantTLS     time.Duration
		wantHeader  time.Duration
	}{
		{"defaults", ClientConfig{}, MaxIdleConnsPerHostDefault, IdleConnTimeoutDefault, TLSHandshakeTimeoutDefault, 0},
		{"negative means default", ClientConfig{MaxIdleConnsPerHost: -1, IdleConnTimeout: -1, TLSHandshakeTimeout: -1, ResponseHeaderTimeout: -1},
			MaxIdleConnsPerHostDefault, IdleConnTimeoutDefault, TLSHandshakeTimeoutDefault, 0},
		{"overrides", ClientConfig{MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Second, TLSHandshakeTimeout: 2 * time.Second, ResponseHeaderTimeout: 3 * time.Second},
			8, time.Second, 2 * time.Second, 3 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTransport(Policy{}, tc.cfg)
			if tr.Proxy != nil {
				t.Errorf("Proxy: got a function, want nil")
			}
			if tr.DialContext == nil || !tr.ForceAttemptHTTP2 || !tr.DisableCompression {
				t.Errorf("DialContext set %v, ForceAttemptHTTP2 %v, DisableCompression %v: want all true",
					tr.DialContext != nil, tr.ForceAttemptHTTP2, tr.DisableCompression)
			}
			if got, want := tr.TLSClientConfig.MinVersion, uint16(tls.VersionTLS12); got != want {
				t.Errorf("TLS MinVersion: got %#x, want %#x", got, want)
			}
			if got, want := tr.MaxIdleConns, MaxIdleConns; got != want {
				t.Errorf("MaxIdleConns: got %d, want %d", got, want)
			}
			if got, want := tr.MaxIdleConnsPerHost, tc.wantPerHost; got != want {
				t.Errorf("MaxIdleConnsPerHost: got %d, want %d", got, want)
			}
			if got, want := tr.IdleConnTimeout, tc.wantIdle; got != want {
				t.Errorf("IdleConnTimeout: got %v, want %v", got, want)
			}
			if got, want := tr.TLSHandshakeTimeout, tc.wantTLS; got != want {
				t.Errorf("TLSHandshakeTimeout: got %v, want %v", got, want)
			}
			if got, want := tr.ResponseHeaderTimeout, tc.wantHeader; got != want {
				t.Errorf("ResponseHeaderTimeout: got %v, want %v", got, want)
			}
		})
	}
	c := NewClient(Policy{}, ClientConfig{})
	if c.Timeout != 0 {
		t.Errorf("Client.Timeout: got %v, want 0 (per-attempt context)", c.Timeout)
	}
	if c.CheckRedirect == nil || !errors.Is(c.CheckRedirect(nil, nil), http.ErrUseLastResponse) {
		t.Errorf("CheckRedirect: want http.ErrUseLastResponse")
	}
}
