// Package hostname checks the syntax of DNS host names, the one rule that
// destination URLs (pkg/envelope) and the destination allow-list
// (pkg/egress) share. Each adds its own rules on top: a URL may also
// hold an IP literal and end with a dot; an allow-list entry may not end in
// an all-digit label, which is most likely a mistyped IPv4 address.
package hostname

// MaxLength is the longest host name, in bytes.
const MaxLength = 253

// Valid reports whether name is dot-separated labels of 1 to 63 letters,
// digits, hyphens or underscores, none starting or ending with a hyphen,
// at most MaxLength bytes in all. It does not accept a trailing dot.
func Valid(name string) bool {
	if name == "" || len(name) > MaxLength {
		return false
	}
	start := 0
	for i := 0; i <= len(name); i++ {
		if i < len(name) && name[i] != '.' {
			continue
		}
		if !validLabel(name[start:i]) {
			return false
		}
		start = i + 1
	}
	return true
}

// LastLabel returns the part of name after its last dot.
func LastLabel(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '.' {
			return name[i+1:]
		}
	}
	return name
}

func validLabel(l string) bool {
	if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
