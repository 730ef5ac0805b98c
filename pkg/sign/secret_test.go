package sign_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

func TestGenerateSecret(t *testing.T) {
	seq := make([]byte, 32)
	for i := range seq {
		seq[i] = byte(i)
	}
	tests := []struct {
		name    string
		random  io.Reader
		want    string
		wantErr error
	}{
		{name: "zero bytes", random: bytes.NewReader(make([]byte, 32)),
			want: "sk_whsec_" + strings.Repeat("0", 64)},
		{name: "counting bytes", random: bytes.NewReader(seq),
			want: "sk_whsec_000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"},
		{name: "reader returning one byte at a time", random: iotest.OneByteReader(bytes.NewReader(seq)),
			want: "sk_whsec_000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"},
		{name: "short reader", random: bytes.NewReader(make([]byte, 31)), wantErr: io.ErrUnexpectedEOF},
		{name: "empty reader", random: bytes.NewReader(nil), wantErr: io.EOF},
		{name: "failing reader", random: iotest.ErrReader(errBoom), wantErr: errBoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sign.GenerateSecret(tt.random)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("GenerateSecret() error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("GenerateSecret() = %q, want %q", got, tt.want)
			}
		})
	}
}

var errBoom = errors.New("boom")

func TestGenerateSecretDefaultReader(t *testing.T) {
	a, err := sign.GenerateSecret(nil)
	if err != nil {
		t.Fatalf("GenerateSecret(nil) error = %v, want nil", err)
	}
	if err := sign.ValidateSecret(a); err != nil {
		t.Errorf("ValidateSecret(GenerateSecret(nil)) = %v, want nil", err)
	}
	b, _ := sign.GenerateSecret(nil)
	if a == b {
		t.Errorf("two GenerateSecret(nil) calls both returned %q, want different secrets", a)
	}
}

func TestValidateSecret(t *testing.T) {
	valid := "sk_whsec_" + strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		name    string
		secret  string
		wantErr bool
	}{
		{name: "valid", secret: valid},
		{name: "empty", secret: "", wantErr: true},
		{name: "prefix only", secret: "sk_whsec_", wantErr: true},
		{name: "no prefix", secret: strings.Repeat("ab", 32), wantErr: true},
		{name: "other prefix", secret: "whsec_" + strings.Repeat("ab", 32), wantErr: true},
		{name: "63 hex", secret: valid[:len(valid)-1], wantErr: true},
		{name: "65 hex", secret: valid + "0", wantErr: true},
		{name: "uppercase hex", secret: "sk_whsec_" + strings.Repeat("AB", 32), wantErr: true},
		{name: "non-hex letter", secret: "sk_whsec_" + strings.Repeat("g", 64), wantErr: true},
		{name: "masked preview pasted", secret: sign.Mask(valid), wantErr: true},
		{name: "trailing newline", secret: valid[:len(valid)-1] + "\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sign.ValidateSecret(tt.secret)
			if tt.wantErr && !errors.Is(err, sign.ErrInvalidSecret) {
				t.Fatalf("ValidateSecret() = %v, want an error wrapping ErrInvalidSecret", err)
			}
			if !tt.wantErr && err != nil {
				t.Fatalf("ValidateSecret() = %v, want nil", err)
			}
			if err != nil && tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("ValidateSecret() error = %q, want it not to contain the secret", err)
			}
		})
	}
}

func TestMask(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		want   string
	}{
		{name: "full secret", secret: "sk_whsec_" + strings.Repeat("0", 60) + "9f3a", want: "sk_whsec_••••…9f3a"},
		{name: "exactly four", secret: "abcd", want: "sk_whsec_••••…abcd"},
		{name: "three", secret: "abc", want: "sk_whsec_••••…"},
		{name: "empty", secret: "", want: "sk_whsec_••••…"},
		{name: "multibyte tail kept whole", secret: "xxé€ab", want: "sk_whsec_••••…é€ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sign.Mask(tt.secret); got != tt.want {
				t.Errorf("Mask(%q) = %q, want %q", tt.secret, got, tt.want)
			}
		})
	}
}

func TestMaskUsesExactRunes(t *testing.T) {
	if got, want := sign.Mask(""), "sk_whsec_\u2022\u2022\u2022\u2022\u2026"; got != want {
		t.Errorf("Mask(\"\") = %q, want %q", got, want)
	}
}
