package envelope

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// headerRequest is a valid workflow request carrying one extra header.
func headerRequest(name, value string) *Request {
	return &Request{
		V: Version, EventID: "f7c2a4e0-9b5d-4a1f-8d2c-1e3b5f7a9c0d", OrgID: "org_456", Source: SourceWorkflow,
		EventType: WorkflowEventType, URL: "https://example.com/hooks/runs", Headers: map[string]string{name: value},
		TimeoutSeconds: 30, CreatedAt: time.Date(2026, 4, 22, 19, 59, 58, 0, time.UTC),
		Workflow: &WorkflowRun{WorkflowID: "wf_abc123", RunID: "run_xyz789", RowCount: 1, PreviousBlockID: "blk_2",
			PreviousBlockName: "lead_enrichment", PreviousBlockNumber: 2, Results: []byte(`[]`)},
	}
}

// FuzzHeaders puts an arbitrary header name and value into a workflow
// request. Validate must never panic and must refuse with a
// *ValidationError; whatever it accepts must be a header the deliverer can
// send: not reserved, no CR, LF or NUL, written by Request.Write, read back
// unchanged by a receiver, and accepted by net/http's client transport
// (which, unlike Request.Write, checks names and values before sending).
func FuzzHeaders(f *testing.F) {
	for _, s := range [][2]string{
		{"X-Customer-Token", "abc123"}, {"x-lower", "v"}, {"X-Empty", ""}, {"X-Tab", "a\tb"},
		{"X-Padded", "  v  "}, {"X-Obs-Text", "caf\xc3\xa9"}, {"X-Latin1", "caf\xe9"}, {"X-Del", "a\x7fb"},
		{"X-Injected", "a\r\nX-Evil: 1"}, {"X-Lf", "a\nb"}, {"X-Nul", "a\x00b"}, {"X-Bell", "a\x07b"},
		{"X-A\r\nX-B", "v"}, {"X A", "v"}, {"X:A", "v"}, {"", "v"}, {"X-Ünicode", "v"}, {"!#$%&'*+-.^_`|~", "v"},
		{"Sixtyfour-Signature", "t=1,v1=forged"}, {"sixtyfour-event-id", "x"}, {"content-type", "text/plain"},
		{"Host", "evil.example"}, {"Transfer-Encoding", "chunked"}, {"Content-Length", "0"}, {"Authorization", "Bearer x"},
		{"X-Long", strings.Repeat("a", MaxHeaderValueLength+1)},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		err := headerRequest(name, value).Validate(URLPolicy{})
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate error %v (%T), want a *ValidationError wrapping ErrInvalid", err, err)
			}
			return
		}
		if IsReservedHeader(name) {
			t.Fatalf("accepted the reserved header %q", name)
		}
		if strings.ContainsAny(name, "\r\n\x00") || strings.ContainsAny(value, "\r\n\x00") {
			t.Fatalf("accepted a header with CR, LF or NUL: %q: %q", name, value)
		}
		wire, err := writeRequestWithHeader(name, value)
		if err != nil {
			t.Fatalf("accepted header %q: %q cannot be written by Request.Write: %v", name, value, err)
		}
		got, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(wire)))
		if err != nil {
			t.Fatalf("accepted header %q: %q is not readable by a receiver: %v\n%q", name, value, err, wire)
		}
		if vs := got.Header.Values(name); len(vs) != 1 || vs[0] != strings.Trim(value, " \t") {
			t.Fatalf("accepted header %q: %q reached the receiver as %q", name, value, vs)
		}
		if err := sendWithHeader(name, value); err != nil {
			t.Fatalf("accepted header %q: %q is refused by net/http's transport: %v", name, value, err)
		}
	})
}

// writeRequestWithHeader is a POST with the header, as Request.Write sends it.
func writeRequestWithHeader(name, value string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodPost, "https://example.com/hooks/runs", strings.NewReader(`{}`))
	if err != nil {
		return nil, err
	}
	req.Header.Set(name, value)
	var buf bytes.Buffer
	err = req.Write(&buf)
	return buf.Bytes(), err
}

// sendWithHeader POSTs a request with the header through an http.Transport
// to an in-memory receiver (net.Pipe), as the deliverer's client would.
func sendWithHeader(name, value string) error {
	client, server := net.Pipe()
	defer client.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		defer server.Close()
		req, err := http.ReadRequest(bufio.NewReader(server))
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		_, _ = io.WriteString(server, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
	}()
	tr := &http.Transport{
		DialContext:       func(context.Context, string, string) (net.Conn, error) { return client, nil },
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodPost, "http://receiver.test/hook", strings.NewReader(`{}`))
	if err != nil {
		return err
	}
	req.Header.Set(name, value)
	resp, err := tr.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
	}
	client.Close()
	server.Close()
	<-served
	return err
}

// FuzzURL feeds arbitrary strings to CheckURL, with and without AllowHTTP:
// it must never panic, and every URL it accepts must parse with net/url and
// have scheme https (or http when allowed), a host, no userinfo and at most
// MaxURLLength characters.
func FuzzURL(f *testing.F) {
	for _, s := range []string{
		"https://example.com/hooks/runs", "http://example.com/", "HTTPS://EXAMPLE.COM/", "https://example.com:8443/a?b=c",
		"https://[2001:db8::1]:443/", "https://[fe80::1%25eth0]/", "https://user:pw@example.com/", "https://@example.com/",
		"https://example.com/#frag", "https:///path", "//example.com/", "/relative", "javascript:alert(1)", "https:opaque",
		"https://example.com:0/", "https://example.com:65536/", "https://example.com:/", "https://ex ample.com/",
		"https://exa%6dple.com/", "https://a<b>.example/", "https://bücher.example/", "https://evil.com\\@good.com/",
		"ftp://example.com/", "https://" + strings.Repeat("a", MaxURLLength) + ".com/", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, p := range []URLPolicy{{}, {AllowHTTP: true}} {
			if msg := p.CheckURL(raw); msg != "" {
				continue
			}
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatalf("%+v accepted %q, which net/url does not parse: %v", p, raw, err)
			}
			if !(u.Scheme == "https" || p.AllowHTTP && u.Scheme == "http") {
				t.Fatalf("%+v accepted %q with scheme %q", p, raw, u.Scheme)
			}
			if u.Hostname() == "" {
				t.Fatalf("%+v accepted %q without a host", p, raw)
			}
			if u.User != nil {
				t.Fatalf("%+v accepted %q with userinfo", p, raw)
			}
			if len(raw) > MaxURLLength {
				t.Fatalf("%+v accepted %q of %d bytes", p, raw, len(raw))
			}
		}
	})
}

// TestAcceptedHeaderSurvivesTheWire checks that an accepted header value
// reaches the deliverer unchanged through the JSON form on the stream.
func TestAcceptedHeaderSurvivesTheWire(t *testing.T) {
	for _, value := range []string{"abc123", "caf\xc3\xa9", "caf\xe9", "\x80\xff"} {
		req := headerRequest("X-Customer-Token", value)
		if err := req.Validate(URLPolicy{}); err != nil {
			continue // refused: nothing to carry
		}
		data, err := req.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(data, URLPolicy{})
		if err != nil {
			t.Fatalf("value %q: Decode(Encode()): %v", value, err)
		}
		if g := got.Headers["X-Customer-Token"]; g != value {
			t.Errorf("value %q was accepted but reaches the deliverer as %q", value, g)
		}
	}
}
