package hostname

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	long := strings.Repeat("a", 63)
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"example.com", true},
		{"a", true},
		{"hooks-1.example_internal.org", true},
		{"10.0.0.1", true}, // syntax only: callers decide about digits
		{long + ".com", true},
		{strings.Repeat(long+".", 3) + strings.Repeat("a", 61), true},  // 253 bytes
		{strings.Repeat(long+".", 3) + strings.Repeat("a", 62), false}, // 254 bytes
		{long + "a.com", false}, // a label of 64
		{"", false},
		{"example.com.", false}, // trailing dot: callers trim it where they accept it
		{".example.com", false},
		{"a..b", false},
		{"-a.com", false},
		{"a-.com", false},
		{"a b.com", false},
		{"a<b>.com", false},
		{"exämple.com", false},
		{"[::1]", false},
	} {
		if got := Valid(tc.name); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestLastLabel(t *testing.T) {
	for in, want := range map[string]string{"a.b.c": "c", "abc": "abc", "a.": "", "": ""} {
		if got := LastLabel(in); got != want {
			t.Errorf("LastLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
