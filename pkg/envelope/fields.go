package envelope

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/sixtyfour-oss/webhooks/pkg/hostname"
)

// Limits on request fields. They bound what a publisher may put on the stream
// and what a deliverer will send.
const (
	// MaxURLLength is the longest destination URL accepted, in characters (the
	// product's webhook_url schema allows 2,083).
	MaxURLLength = 2083
	// MaxIDLength bounds task_id, workflow_id, run_id and block ids, in bytes.
	MaxIDLength = 256
	// MaxErrorLength bounds a failed job's error message, in bytes.
	MaxErrorLength = 64 << 10
	// MaxBlockNameLength bounds previous_block_name, in bytes.
	MaxBlockNameLength = 256
	// MaxObjectKeyLength bounds results_object, in bytes.
	MaxObjectKeyLength = 1024
)

// ValidOrgID reports whether id is a valid organization id:
// [A-Za-z0-9_-]{1,64}. Organization ids are NATS subject tokens.
func ValidOrgID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ValidTaskType reports whether t is a valid task type: [a-z0-9_.]{1,64}.
func ValidTaskType(t string) bool {
	if len(t) == 0 || len(t) > 64 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// URLPolicy says which destination URLs are acceptable beyond the fixed
// syntax rules.
type URLPolicy struct {
	// AllowHTTP permits plain http:// destinations. Defaults to false: only
	// https is accepted. It is an UNSAFE setting meant for local receivers and
	// tests; an operator enables it explicitly.
	AllowHTTP bool
}

// CheckURL validates a destination URL's syntax: absolute, http or https
// (https only unless p.AllowHTTP), a host, no userinfo, no fragment, at most
// MaxURLLength characters, no control characters. It returns a message
// suitable for a FieldError, or "" when the URL is acceptable. It does not
// resolve the host.
func (p URLPolicy) CheckURL(raw string) string {
	if raw == "" {
		return "required"
	}
	if len(raw) > MaxURLLength {
		return "longer than " + strconv.Itoa(MaxURLLength) + " characters"
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] < 0x21 || raw[i] == 0x7f {
			return "contains whitespace or a control character"
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "not a valid URL"
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowHTTP {
			return "must use https (plain http is allowed only when the operator enables it)"
		}
	case "":
		return "must be an absolute URL with an https scheme"
	default:
		return "scheme " + strconv.Quote(u.Scheme) + " is not allowed; use https"
	}
	if u.Opaque != "" {
		return "not a hierarchical URL"
	}
	if u.User != nil {
		return "must not contain userinfo (user:password@)"
	}
	if u.Hostname() == "" {
		return "must have a host"
	}
	if !validHost(u.Hostname()) {
		return "host must be a DNS name or an IP address"
	}
	if strings.Contains(u.Host, "%") {
		return "must not contain a zone-scoped address"
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "port must be between 1 and 65535"
		}
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "must not contain a fragment"
	}
	return ""
}

// checkID validates a required identifier-like string field.
func checkID(p *problems, field, v string) {
	switch {
	case v == "":
		p.add(field, "required")
	case len(v) > MaxIDLength:
		p.add(field, "longer than "+strconv.Itoa(MaxIDLength)+" bytes")
	case hasControl(v):
		p.add(field, "contains a control character")
	}
}

// hasControl reports whether s contains an ASCII control character.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// validHost reports whether h is an IP literal or a DNS name
// (hostname.Valid), with or without a trailing dot.
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	return len(h) <= hostname.MaxLength && hostname.Valid(strings.TrimSuffix(h, "."))
}
