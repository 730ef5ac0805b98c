package download_test

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/download"
	"github.com/sixtyfour-oss/webhooks/pkg/results"
)

var (
	testKey    = []byte("0123456789abcdef0123456789abcdef") // 32 bytes
	foreignKey = []byte("fedcba9876543210fedcba9876543210")
	signedAt   = time.Unix(1_776_888_000, 0) // 2026-04-22T20:00:00Z
)

func testSigner() download.Signer {
	return download.Signer{Key: testKey, BaseURL: "https://downloads.example.com/"}
}

// parts splits a signed URL into what the handler verifies.
func parts(t *testing.T, raw string) (key, exp, sig string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	key, err = url.PathUnescape(strings.TrimPrefix(u.EscapedPath(), download.PathPrefix))
	if err != nil {
		t.Fatal(err)
	}
	return key, u.Query().Get("exp"), u.Query().Get("sig")
}

func TestURLFormat(t *testing.T) {
	s := testSigner()
	got := s.URL("org_1/run 1/blk_2.csv", signedAt)
	wantPrefix := "https://downloads.example.com/v1/downloads/org_1/run%201/blk_2.csv?exp=1776888900&sig="
	if !strings.HasPrefix(got, wantPrefix) {
		t.Fatalf("URL = %s, want prefix %s", got, wantPrefix)
	}
	if sig := strings.TrimPrefix(got, wantPrefix); len(sig) != 64 || strings.Trim(sig, "0123456789abcdef") != "" {
		t.Errorf("sig = %q, want 64 lowercase hex digits", sig)
	}
	key, _, _ := parts(t, got)
	if key != "org_1/run 1/blk_2.csv" {
		t.Errorf("round-tripped key = %q", key)
	}
}

func TestVerify(t *testing.T) {
	s := testSigner()
	key := results.CSVKey("org_1", "run_1", "blk_2")
	k, exp, sig := parts(t, s.URL(key, signedAt))
	foreign := download.Signer{Key: foreignKey, BaseURL: s.BaseURL}
	_, fexp, fsig := parts(t, foreign.URL(key, signedAt))
	flip := func(h string) string {
		if h[0] == '0' {
			return "1" + h[1:]
		}
		return "0" + h[1:]
	}
	tests := []struct {
		name          string
		key, exp, sig string
		now           time.Time
		want          error
	}{
		{"valid", k, exp, sig, signedAt, nil},
		{"valid at the last second", k, exp, sig, signedAt.Add(download.DefaultTTL), nil},
		{"expired", k, exp, sig, signedAt.Add(download.DefaultTTL + time.Second), download.ErrExpired},
		{"tampered key", results.CSVKey("org_2", "run_1", "blk_2"), exp, sig, signedAt, download.ErrBadSignature},
		{"tampered exp", k, "9999999999", sig, signedAt, download.ErrBadSignature},
		{"tampered sig", k, exp, flip(sig), signedAt, download.ErrBadSignature},
		{"uppercase sig is the same bytes", k, exp, strings.ToUpper(sig), signedAt, nil},
		{"foreign key", k, fexp, fsig, signedAt, download.ErrBadSignature},
		{"no key", "", exp, sig, signedAt, download.ErrMalformed},
		{"no exp", k, "", sig, signedAt, download.ErrMalformed},
		{"signed exp", k, "+" + exp, sig, signedAt, download.ErrMalformed},
		{"huge exp", k, strings.Repeat("9", 19), sig, signedAt, download.ErrMalformed},
		{"no sig", k, exp, "", signedAt, download.ErrMalformed},
		{"short sig", k, exp, sig[:62], signedAt, download.ErrMalformed},
		{"non-hex sig", k, exp, "zz" + sig[2:], signedAt, download.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Verify(tt.key, tt.exp, tt.sig, tt.now)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyRefusesShortKey(t *testing.T) {
	s := download.Signer{Key: testKey[:31], BaseURL: "https://d.example.com"}
	k, exp, sig := parts(t, s.URL("a/b.csv", signedAt))
	if err := s.Verify(k, exp, sig, signedAt); !errors.Is(err, download.ErrInvalidSigner) {
		t.Errorf("Verify with a 31-byte key = %v, want ErrInvalidSigner", err)
	}
}

func TestTTL(t *testing.T) {
	s := testSigner()
	s.TTL = 1500 * time.Millisecond // rounded up to 2 s
	_, exp, _ := parts(t, s.URL("a/b.csv", signedAt))
	if want := "1776888002"; exp != want {
		t.Errorf("exp = %s, want %s", exp, want)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		s    download.Signer
		ok   bool
	}{
		{"valid", testSigner(), true},
		{"valid with path", download.Signer{Key: testKey, BaseURL: "http://127.0.0.1:8080/files"}, true},
		{"short key", download.Signer{Key: testKey[:31], BaseURL: "https://d.example.com"}, false},
		{"no base", download.Signer{Key: testKey}, false},
		{"relative base", download.Signer{Key: testKey, BaseURL: "/downloads"}, false},
		{"ftp base", download.Signer{Key: testKey, BaseURL: "ftp://d.example.com"}, false},
		{"query in base", download.Signer{Key: testKey, BaseURL: "https://d.example.com/?a=b"}, false},
		{"userinfo in base", download.Signer{Key: testKey, BaseURL: "https://u:p@d.example.com"}, false},
		{"negative TTL", download.Signer{Key: testKey, BaseURL: "https://d.example.com", TTL: -time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, download.ErrInvalidSigner)) {
				t.Errorf("Validate = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), string(testKey)) {
				t.Errorf("error %q shows the key", err)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		name, spec string
		wantLen    int
	}{
		{"std padded", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", 32},
		{"std raw, spaces", "  MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY \n", 32},
		{"url alphabet", "-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_8=", 32},
		{"too short", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZQ==", 0},
		{"not base64", "not base64!", 0},
		{"empty", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := download.ParseKey(tt.spec)
			if tt.wantLen == 0 {
				if !errors.Is(err, download.ErrInvalidSigner) {
					t.Errorf("ParseKey = %d bytes, %v; want ErrInvalidSigner", len(key), err)
				}
				return
			}
			if err != nil || len(key) != tt.wantLen {
				t.Errorf("ParseKey = %d bytes, %v; want %d bytes", len(key), err, tt.wantLen)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	tests := []struct{ name, got, want string }{
		{"csv", results.CSVKey("org_456", "run_xyz789", "blk_2"), "org_456/run_xyz789/blk_2.csv"},
		{"rows", results.RowsKey("org_456", "run_xyz789"), "org_456/run_xyz789/results.json"},
		{"inner dots kept", results.CSVKey("o", "run.v2", "b.1"), "o/run.v2/b.1.csv"},
		{"slash escaped", results.CSVKey("o", "a/b", "c"), "o/a%2Fb/c.csv"},
		{"dot-dot escaped", results.RowsKey("..", ".."), "%2E./%2E./results.json"},
		{"percent escaped", results.CSVKey("o", "%2F", "c"), "o/%252F/c.csv"},
		{"empty", results.CSVKey("", "r", ""), "~/r/~.csv"},
		{"tilde escaped", results.CSVKey("~", "r", "b"), "%7E/r/b.csv"},
		{"controls escaped", results.RowsKey("o\n", "r"), "o%0A/r/results.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("key = %q, want %q", tt.got, tt.want)
			}
			for _, seg := range strings.Split(tt.got, "/") {
				if seg == "" || seg == "." || seg == ".." {
					t.Errorf("key %q has segment %q", tt.got, seg)
				}
			}
		})
	}
}

// FuzzVerify: Verify never panics, and accepts only what was signed.
func FuzzVerify(f *testing.F) {
	s := testSigner()
	f.Add("org_1/run_1/blk_2.csv", "1776888900", "00")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, key, exp, sig string) {
		if err := s.Verify(key, exp, sig, signedAt); err != nil {
			return
		}
		n, err := strconv.ParseInt(exp, 10, 64)
		if err != nil {
			t.Fatalf("Verify accepted exp %q", exp)
		}
		_, e, g := parts(t, s.URL(key, time.Unix(n-int64(download.DefaultTTL/time.Second), 0)))
		if e != exp || g != strings.ToLower(sig) {
			t.Errorf("Verify accepted an unsigned URL: key=%q exp=%q sig=%q", key, exp, sig)
		}
	})
}
