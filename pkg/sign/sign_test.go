package sign_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

// Known-answer vector, checked independently with
// printf '%s' '1700000000.<body>' | openssl dgst -sha256 -hmac whsec_test_secret_123
const (
	katSecret = "whsec_test_secret_123"
	katT      = int64(1700000000)
	katBody   = `{"id":"evt_1","type":"job.completed","data":{"job_id":"j1","status":"ok"}}`
	katMAC    = "d375345f515da627e0b7a8bba8f32d7c8dc8b676580779b93a1ef8dcbf2acebe"
)

func TestComputeKnownAnswer(t *testing.T) {
	if got := sign.Compute(katSecret, katT, []byte(katBody)); got != katMAC {
		t.Fatalf("Compute() = %s, want %s", got, katMAC)
	}
}

func TestHeader(t *testing.T) {
	const (
		newSecret = "sk_whsec_1111111111111111111111111111111111111111111111111111111111111111"
		oldSecret = "sk_whsec_2222222222222222222222222222222222222222222222222222222222222222"
	)
	body := []byte(katBody)
	tests := []struct {
		name    string
		t       int64
		secrets []string
		want    string
	}{
		{name: "known answer", t: katT, secrets: []string{katSecret},
			want: "t=1700000000,v1=" + katMAC},
		{name: "no secrets is unsigned", t: katT, secrets: nil, want: ""},
		{name: "rotation puts new before old", t: katT, secrets: []string{newSecret, oldSecret},
			want: "t=1700000000,v1=" + sign.Compute(newSecret, katT, body) +
				",v1=" + sign.Compute(oldSecret, katT, body)},
		{name: "zero timestamp", t: 0, secrets: []string{katSecret},
			want: "t=0,v1=" + sign.Compute(katSecret, 0, body)},
		{name: "largest timestamp", t: 9223372036854775807, secrets: []string{katSecret},
			want: "t=9223372036854775807,v1=" + sign.Compute(katSecret, 9223372036854775807, body)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sign.Header(tt.t, body, tt.secrets...); got != tt.want {
				t.Errorf("Header() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestComputeDependsOnEveryInput(t *testing.T) {
	base := sign.Compute(katSecret, katT, []byte(katBody))
	tests := []struct {
		name   string
		secret string
		t      int64
		body   string
	}{
		{name: "other secret", secret: katSecret + "x", t: katT, body: katBody},
		{name: "other timestamp", secret: katSecret, t: katT + 1, body: katBody},
		{name: "other body", secret: katSecret, t: katT, body: katBody + " "},
		{name: "dot moved between t and body", secret: katSecret, t: 170000000, body: "0." + katBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sign.Compute(tt.secret, tt.t, []byte(tt.body)); got == base {
				t.Errorf("Compute() = %s, want a value different from the base signature", got)
			}
		})
	}
}

func TestComputeFormat(t *testing.T) {
	got := sign.Compute("", -5, nil)
	if len(got) != 64 || strings.ToLower(got) != got {
		t.Errorf("Compute() = %q, want 64 lowercase hex characters", got)
	}
}

func TestComputeAllocations(t *testing.T) {
	body := bytes.Repeat([]byte("a"), 1024)
	secret := "sk_whsec_" + strings.Repeat("ab", 32)
	key := []byte(secret)
	// hmac.New's own allocations depend on the Go version; Compute may add
	// one for the key and scratch space and one for the returned string, and
	// must never allocate the "<t>.<body>" message.
	hmacAllocs := testing.AllocsPerRun(100, func() { hmac.New(sha256.New, key) })
	got := testing.AllocsPerRun(100, func() { sign.Compute(secret, katT, body) })
	if want := hmacAllocs + 2; got > want {
		t.Errorf("Compute allocations = %v, want at most %v (hmac.New alone: %v)", got, want, hmacAllocs)
	}
}

func BenchmarkHeader(b *testing.B) {
	body := bytes.Repeat([]byte(`{"k":"v"}`), 1024/9+1)[:1024]
	secret := "sk_whsec_" + strings.Repeat("ab", 32)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		sign.Header(katT, body, secret)
	}
}

func BenchmarkVerify(b *testing.B) {
	body := bytes.Repeat([]byte(`{"k":"v"}`), 1024/9+1)[:1024]
	secret := "sk_whsec_" + strings.Repeat("ab", 32)
	header := sign.Header(katT, body, secret)
	secrets := []string{secret}
	now := unix(katT)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := sign.Verify(header, body, secrets, now, 0); err != nil {
			b.Fatal(err)
		}
	}
}
