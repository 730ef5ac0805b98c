package sign_test

import (
	"errors"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

// FuzzVerify feeds arbitrary headers, bodies, secrets and clocks to Verify.
// Properties:
//  1. Verify never panics and returns nil or one of the four sentinels.
//  2. If Verify accepts, a naive independent parse of the header finds a
//     single t within DefaultTolerance of now and a v1 equal to
//     Compute(secret, t, body) for one of the secrets.
//  3. A header made by Header for the fuzzed body and secret is accepted at
//     its own timestamp.
func FuzzVerify(f *testing.F) {
	body := []byte(katBody)
	valid := sign.Header(katT, body, secretNew)
	dual := sign.Header(katT, body, secretNew, secretOld)
	seeds := []string{
		valid,
		dual,
		"t=1700000000,v1=" + katMAC,
		"t=1700000000,v0=abc,v1=" + sign.Compute(secretNew, katT, body),
		"v1=" + sign.Compute(secretNew, katT, body) + ",t=1700000000",
		"",
		",",
		"=",
		"t=",
		"v1=",
		"t=,v1=",
		"t=1700000000",
		"t=1700000000,,v1=00",
		"t=1700000000,t=1700000000,v1=00",
		"t=-1,v1=00",
		"t=-9223372036854775808,v1=00",
		"t=-,v1=00",
		"t=9223372036854775807,v1=00",
		"t=99999999999999999999,v1=00",
		"t=1700000000, v1=00",
		"t=1700000000,v1=a=b=c",
		"garbage",
		"t=\x00,v1=\xff",
		strings.Repeat("v1=00,", 100) + "t=1700000000",
	}
	for _, h := range seeds {
		f.Add(h, body, secretNew, katT)
	}
	f.Add(valid, body, secretOld, katT+300)
	f.Add(dual, body, secretOld, katT-301)
	f.Add("t=1700000000,v1="+katMAC, body, katSecret, katT)
	f.Add("t=0,v1=00", []byte{}, "", int64(0))

	f.Fuzz(func(t *testing.T, header string, body []byte, secret string, nowUnix int64) {
		now := time.Unix(nowUnix, 0)
		secrets := []string{secret, secretNew}
		err := sign.Verify(header, body, secrets, now, 0)
		switch {
		case err == nil:
			checkAccepted(t, header, body, secrets, nowUnix)
		case errors.Is(err, sign.ErrMissingHeader), errors.Is(err, sign.ErrMalformedHeader),
			errors.Is(err, sign.ErrTimestampOutOfTolerance), errors.Is(err, sign.ErrNoMatchingSignature):
		default:
			t.Fatalf("Verify(%q) = %v, want nil or a sign sentinel", header, err)
		}

		if secret == "" {
			return // Verify ignores empty secrets by design.
		}
		own := sign.Header(nowUnix, body, secret)
		if err := sign.Verify(own, body, []string{secret}, now, 0); err != nil {
			t.Fatalf("Verify(Header(%d, body, secret)) = %v, want nil", nowUnix, err)
		}
	})
}

// checkAccepted re-derives acceptance with the simplest possible parse.
func checkAccepted(t *testing.T, header string, body []byte, secrets []string, now int64) {
	t.Helper()
	var ts []string
	var v1s []string
	for _, seg := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(seg, "=")
		switch k {
		case "t":
			ts = append(ts, v)
		case "v1":
			v1s = append(v1s, v)
		}
	}
	if len(ts) != 1 {
		t.Fatalf("Verify(%q) = nil, but header has %d t segments, want 1", header, len(ts))
	}
	ts0, err := strconv.ParseInt(ts[0], 10, 64)
	if err != nil {
		t.Fatalf("Verify(%q) = nil, but t does not parse: %v", header, err)
	}
	diff := new(big.Int).Sub(big.NewInt(now), big.NewInt(ts0))
	if diff.Abs(diff).Cmp(big.NewInt(int64(sign.DefaultTolerance/time.Second))) > 0 {
		t.Fatalf("Verify(%q) = nil at now=%d, want t within %s", header, now, sign.DefaultTolerance)
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		want := sign.Compute(s, ts0, body)
		for _, v := range v1s {
			if v == want {
				return
			}
		}
	}
	t.Fatalf("Verify(%q) = nil, but no v1 equals Compute for any secret", header)
}
