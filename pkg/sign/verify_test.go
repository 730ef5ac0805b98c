package sign_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

const (
	secretNew   = "sk_whsec_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	secretOld   = "sk_whsec_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	secretOther = "sk_whsec_cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
)

func TestVerifyKnownAnswer(t *testing.T) {
	header := "t=1700000000,v1=" + katMAC
	if err := sign.Verify(header, []byte(katBody), []string{katSecret}, unix(katT), 0); err != nil {
		t.Fatalf("Verify(known answer) = %v, want nil", err)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(katBody)
	v1 := sign.Compute(secretNew, katT, body)
	single := sign.Header(katT, body, secretNew)
	dual := sign.Header(katT, body, secretNew, secretOld)
	tests := []struct {
		name      string
		header    string
		body      []byte
		secrets   []string
		now       int64
		tolerance time.Duration
		want      error // nil means accepted
	}{
		// Accepted.
		{name: "single signature", header: single, body: body, secrets: []string{secretNew}},
		{name: "dual signed, receiver has both", header: dual, body: body, secrets: []string{secretOld, secretNew}},
		{name: "dual signed, receiver has only new", header: dual, body: body, secrets: []string{secretNew}},
		{name: "dual signed, receiver has only old", header: dual, body: body, secrets: []string{secretOld}},
		{name: "unknown scheme v0 ignored", header: "t=1700000000,v0=abc,v1=" + v1, body: body, secrets: []string{secretNew}},
		{name: "unknown key ignored", header: "x=1,t=1700000000,v1=" + v1, body: body, secrets: []string{secretNew}},
		{name: "t after v1", header: "v1=" + v1 + ",t=1700000000", body: body, secrets: []string{secretNew}},
		{name: "matching v1 second", header: "t=1700000000,v1=00,v1=" + v1, body: body, secrets: []string{secretNew}},
		{name: "empty secret skipped", header: single, body: body, secrets: []string{"", secretNew}},
		{name: "exactly 300s old", header: single, body: body, secrets: []string{secretNew}, now: katT + 300},
		{name: "exactly 300s ahead", header: single, body: body, secrets: []string{secretNew}, now: katT - 300},
		{name: "negative t at a negative now", header: sign.Header(-5, body, secretNew), body: body, secrets: []string{secretNew}, now: -5},
		{name: "custom tolerance", header: single, body: body, secrets: []string{secretNew}, now: katT + 600, tolerance: 10 * time.Minute},

		// Missing.
		{name: "empty header", header: "", body: body, secrets: []string{secretNew}, want: sign.ErrMissingHeader},

		// Malformed.
		{name: "no t", header: "v1=" + v1, body: body, secrets: []string{secretNew}, want: sign.ErrMalformedHeader},
		{name: "t not a number", header: "t=abc,v1=" + v1, body: body, secrets: []string{secretNew}, want: sign.ErrMalformedHeader},
		{name: "t empty", header: "t=,v1=" + v1, body: body, secrets: []string{secretNew}, want: sign.ErrMalformedHeader},
		{name: "t only a minus", header: "t=-,v1=" + v1, body: body, secrets: []string{secretNew}, want: sign.ErrMalformedHeader},
		{name: "t double minus", header: "t=--1,v1=" + v1, body: body, secrets: []string{secretNew}, want: sign.ErrMalformedHeader},
		{name: "t below int64", header: "t=-9223372036854775809,v1=" + v1, body: body, secrets: []string{secretNew}, want: sign.ErrMalformedHeader},
		{name: "t with plus sign", header: "t=+1700000000,v1=" + v1, body: body, secrets: []string{secretNew}, want: sign.ErrMalformedHeader},
		{name: "t fractional", header: "t=1700000000.5,v1=" + v1, body: body, secrets: []string{secretNew}, want: sign.ErrMalformedHeader},
		{name: "t overflows int64", header: "t=9223372036854775808,v1=" + v1, body: body, secrets: []string{secretNew}, want: sign.ErrMalformedHeader},
		{name: "t too many digits", header: "t=00000000001700000000,v1=" + v1, body: body, secrets: []string{secretNew}, want: sign.ErrMalformedHeader},
		{name: "no v1", header: "t=1700000000", body: body, secrets: []string{secretNew}, want: sign.ErrMalformedHeader},
		{name: "only v0", header: "t=1700000000,v0=" + v1, body: body, secrets: []string{secretNew}, want: sign.ErrMalformedHeader},
		{name: "garbage", header: "garbage", body: body, secrets: []string{secretNew}, want: sign.ErrMalformedHeader},
		{name: "duplicate t", header: "t=1700000000,t=1700000000,v1=" + v1, body: body, secrets: []string{secretNew}, want: sign.ErrMalformedHeader},
		{name: "empty middle segment", header: "t=1700000000,,v1=" + v1, body: body, secrets: []string{secretNew}, want: sign.ErrMalformedHeader},
		{name: "trailing comma", header: single + ",", body: body, secrets: []string{secretNew}, want: sign.ErrMalformedHeader},
		{name: "leading comma", header: "," + single, body: body, secrets: []string{secretNew}, want: sign.ErrMalformedHeader},
		{name: "only a comma", header: ",", body: body, secrets: []string{secretNew}, want: sign.ErrMalformedHeader},
		{name: "space after comma hides v1", header: "t=1700000000, v1=" + v1, body: body, secrets: []string{secretNew}, want: sign.ErrMalformedHeader},

		// Tolerance, both directions.
		{name: "301s old", header: single, body: body, secrets: []string{secretNew}, now: katT + 301, want: sign.ErrTimestampOutOfTolerance},
		{name: "301s ahead", header: single, body: body, secrets: []string{secretNew}, now: katT - 301, want: sign.ErrTimestampOutOfTolerance},
		{name: "t=0 far in the past", header: "t=0,v1=" + v1, body: body, secrets: []string{secretNew}, want: sign.ErrTimestampOutOfTolerance},
		{name: "negative t parses, then is stale", header: "t=-1700000000,v1=" + v1, body: body, secrets: []string{secretNew}, want: sign.ErrTimestampOutOfTolerance},
		{name: "smallest t, no overflow", header: "t=-9223372036854775808,v1=" + v1, body: body, secrets: []string{secretNew}, want: sign.ErrTimestampOutOfTolerance},
		{name: "largest t, no overflow", header: "t=9223372036854775807,v1=" + v1, body: body, secrets: []string{secretNew}, want: sign.ErrTimestampOutOfTolerance},

		// No matching signature.
		{name: "tampered body", header: single, body: []byte(strings.Replace(katBody, "ok", "ko", 1)), secrets: []string{secretNew}, want: sign.ErrNoMatchingSignature},
		{name: "body re-serialised with a space", header: single, body: []byte(strings.Replace(katBody, ":", ": ", 1)), secrets: []string{secretNew}, want: sign.ErrNoMatchingSignature},
		{name: "wrong secret", header: single, body: body, secrets: []string{secretOther}, want: sign.ErrNoMatchingSignature},
		{name: "dual signed, third secret", header: dual, body: body, secrets: []string{secretOther}, want: sign.ErrNoMatchingSignature},
		{name: "uppercase hex", header: "t=1700000000,v1=" + strings.ToUpper(v1), body: body, secrets: []string{secretNew}, want: sign.ErrNoMatchingSignature},
		{name: "truncated v1", header: "t=1700000000,v1=" + v1[:63], body: body, secrets: []string{secretNew}, want: sign.ErrNoMatchingSignature},
		{name: "empty v1", header: "t=1700000000,v1=", body: body, secrets: []string{secretNew}, want: sign.ErrNoMatchingSignature},
		{name: "signature for another t", header: "t=1700000001,v1=" + v1, body: body, secrets: []string{secretNew}, want: sign.ErrNoMatchingSignature},
		{name: "no secrets", header: single, body: body, secrets: nil, want: sign.ErrNoMatchingSignature},
		{name: "only empty secrets", header: single, body: body, secrets: []string{""}, want: sign.ErrNoMatchingSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now == 0 {
				now = katT
			}
			got := sign.Verify(tt.header, tt.body, tt.secrets, unix(now), tt.tolerance)
			if tt.want == nil {
				if got != nil {
					t.Fatalf("Verify() = %v, want nil", got)
				}
				return
			}
			if !errors.Is(got, tt.want) {
				t.Fatalf("Verify() = %v, want an error wrapping %v", got, tt.want)
			}
		})
	}
}

func TestVerifyErrorsAreDistinct(t *testing.T) {
	all := []error{sign.ErrMissingHeader, sign.ErrMalformedHeader, sign.ErrTimestampOutOfTolerance,
		sign.ErrNoMatchingSignature, sign.ErrInvalidSecret}
	for i, a := range all {
		for j, b := range all {
			if i != j && errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v) = true, want distinct sentinels", a, b)
			}
		}
	}
}

func TestVerifyNoSecretsMessage(t *testing.T) {
	err := sign.Verify(sign.Header(katT, nil, secretNew), nil, nil, unix(katT), 0)
	if got, want := err.Error(), "no secrets configured"; !strings.Contains(got, want) {
		t.Errorf("Verify() error = %q, want it to contain %q", got, want)
	}
}

func TestVerifyErrorsHideSecrets(t *testing.T) {
	header := sign.Header(katT, []byte(katBody), secretNew)
	err := sign.Verify(header, []byte("tampered"), []string{secretNew, secretOld}, unix(katT), 0)
	for _, s := range []string{secretNew, secretOld, sign.Compute(secretNew, katT, []byte("tampered"))} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("Verify() error = %q, want it not to contain a secret or an expected signature", err)
		}
	}
}

func TestVerifySubSecondNow(t *testing.T) {
	// Seconds are compared after truncating now: 300.9 s is still 300 s.
	header := sign.Header(katT, nil, secretNew)
	now := time.Unix(katT+300, 900_000_000)
	if err := sign.Verify(header, nil, []string{secretNew}, now, 0); err != nil {
		t.Errorf("Verify(now = t+300.9s) = %v, want nil", err)
	}
}
