package console

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// ContentSecurityPolicy is sent with every response: scripts, styles and
// images from the console itself only, no inline script or style, no
// framing, forms posting only back to the console.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// maxFormBytes bounds a request body: the console's forms are small.
const maxFormBytes = 64 << 10

// securityHeaders sets the headers every response carries. Pages are
// never cached (they show one principal's data, sometimes a new secret);
// the assets handler replaces Cache-Control for its immutable files.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", ContentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// limitBody caps every request body at maxFormBytes.
func limitBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		}
		h.ServeHTTP(w, r)
	})
}

// localPath returns next when it is a path on this server ("/…", no
// scheme, no host, no backslash or control character: nothing a browser
// could read as another site), else "/". It is what every redirect after
// sign-in goes through, so that next= cannot send anyone elsewhere.
func localPath(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || len(next) > 2048 {
		return "/"
	}
	if strings.ContainsFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "/"
	}
	return next
}

// secureCookie reports whether the session cookie must be Secure: always,
// but for plain HTTP to a loopback host (the quickstart on 127.0.0.1),
// where a Secure cookie would never come back.
func secureCookie(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	switch strings.ToLower(host) {
	case "127.0.0.1", "localhost", "::1":
		return false
	}
	return true
}

// clientIP returns the host of r.RemoteAddr: the address bad sign-ins are
// counted by. Behind a reverse proxy every client shares the proxy's.
func clientIP(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// isHTMX reports whether r was made by htmx (rather than a page load).
func isHTMX(r *http.Request) bool { return r.Header.Get("HX-Request") == "true" }
