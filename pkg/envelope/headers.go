package envelope

import (
	"net/textproto"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on the extra headers a workflow block may add.
const (
	// MaxHeaders is the most extra headers one request may carry.
	MaxHeaders = 32
	// MaxHeaderNameLength bounds a header name, in bytes.
	MaxHeaderNameLength = 256
	// MaxHeaderValueLength bounds a header value, in bytes.
	MaxHeaderValueLength = 4096
)

// reservedHeaders are set by the deliverer (or by HTTP itself) and cannot be
// overridden by a block's extra headers. Keys are canonical.
var reservedHeaders = map[string]bool{
	"Content-Type":        true,
	"Content-Length":      true,
	"Host":                true,
	"User-Agent":          true,
	"Transfer-Encoding":   true,
	"Connection":          true,
	"Keep-Alive":          true,
	"Upgrade":             true,
	"Te":                  true,
	"Trailer":             true,
	"Proxy-Authorization": true,
	"Proxy-Connection":    true,
	"Content-Encoding":    true,
	"Expect":              true,
}

// IsReservedHeader reports whether name (any case) is a header the deliverer
// owns: every Sixtyfour-* header, Content-Type, Content-Length, Host,
// User-Agent and the hop-by-hop headers.
func IsReservedHeader(name string) bool {
	c := textproto.CanonicalMIMEHeaderKey(name)
	return strings.HasPrefix(c, "Sixtyfour-") || reservedHeaders[c]
}

// SanitizeHeaderName strips CR and LF from a header name, as the product
// does for block headers. The result must still pass validation.
func SanitizeHeaderName(name string) string {
	if !strings.ContainsAny(name, "\r\n") {
		return name
	}
	return strings.NewReplacer("\r", "", "\n", "").Replace(name)
}

// checkHeaders validates extra headers: valid token names (after the
// publisher stripped CR/LF, none may remain), values without CR, LF or NUL,
// no reserved names, no two names equal ignoring case, size limits.
func checkHeaders(p *problems, headers map[string]string) {
	if len(headers) > MaxHeaders {
		p.add("headers", "more than "+strconv.Itoa(MaxHeaders)+" headers")
		return
	}
	names := make([]string, 0, len(headers))
	for name := range headers {
		names = append(names, name)
	}
	sort.Strings(names)
	seen := make(map[string]string, len(headers))
	for _, name := range names {
		field := "headers." + name
		value := headers[name]
		switch {
		case name == "":
			p.add("headers", "empty header name")
			continue
		case len(name) > MaxHeaderNameLength:
			p.add(field, "name longer than "+strconv.Itoa(MaxHeaderNameLength)+" bytes")
			continue
		case !isToken(name):
			p.add(field, "name is not a valid HTTP header token")
			continue
		case IsReservedHeader(name):
			p.add(field, "is set by the deliverer and cannot be overridden")
			continue
		}
		canon := textproto.CanonicalMIMEHeaderKey(name)
		if other, dup := seen[canon]; dup {
			p.add(field, "duplicates header "+strconv.Quote(other)+" (names are case-insensitive)")
			continue
		}
		seen[canon] = name
		switch {
		case len(value) > MaxHeaderValueLength:
			p.add(field, "value longer than "+strconv.Itoa(MaxHeaderValueLength)+" bytes")
		case strings.ContainsAny(value, "\r\n\x00"):
			p.add(field, "value contains CR, LF or NUL")
		case !validHeaderValue(value):
			p.add(field, "value contains a control character")
		case !utf8.ValidString(value):
			p.add(field, "value is not valid UTF-8")
		}
	}
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return s != ""
}

// validHeaderValue allows visible characters, space, tab and obs-text.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
