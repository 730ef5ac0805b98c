package deliver

import (
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

// The records of a retried event hold the headers the receiver got (the
// signature shortened, Authorization left out) and, on attempt 1 only,
// the body.
func TestRecordsRequestSent(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streamsConfig())
	rc := newReceiver(t, func(n int, _ *http.Request) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	const oldSecret = "sk_whsec_fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	h.start(Config{}, staticSecrets(testSecret, oldSecret)) // a rotation: two v1
	ctx := jstest.Context(t, 10*time.Second)
	receipt, err := h.pub.PublishWorkflow(ctx, "org_1", rc.URL+"/hooks", workflowRun("run_cap"), envelope.Block{
		Headers: map[string]string{"Authorization": "Bearer receiver-token", "x-customer-token": "abc"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.finalOutcome("org_1", envelope.SourceWorkflow, receipt.EventID, 5*time.Second)
	got, recs := rc.requests(), jstest.Records(ctx, t, h.js, h.streams, "org_1", receipt.EventID)
	if len(got) != 2 || len(recs) != 2 {
		t.Fatalf("%d requests, %d records; want 2 and 2", len(got), len(recs))
	}
	for i, rec := range recs {
		sent := got[i]
		if rec.Attempt != i+1 {
			t.Fatalf("record %d is of attempt %d", i, rec.Attempt)
		}
		if sent.header.Get("Authorization") != "Bearer receiver-token" {
			t.Fatalf("attempt %d: the receiver got no Authorization header", rec.Attempt)
		}
		want := map[string]string{}
		for name, values := range sent.header {
			want[name] = strings.Join(values, ", ")
		}
		delete(want, "Authorization")
		want["X-Customer-Token"] = maskedValue
		want[sign.HeaderName] = shortened(t, sent.header.Get(sign.HeaderName))
		if !maps.Equal(rec.RequestHeaders, want) {
			t.Errorf("attempt %d: recorded headers\n got %v\nwant %v", rec.Attempt, rec.RequestHeaders, want)
		}
		data, err := rec.Encode()
		if err != nil {
			t.Fatal(err)
		}
		full := sent.header.Get(sign.HeaderName)
		for _, secret := range []string{"receiver-token", `"abc"`, full[strings.Index(full, "v1=")+3:][:64]} {
			if strings.Contains(string(data), secret) {
				t.Errorf("attempt %d: the record holds %q", rec.Attempt, secret)
			}
		}
	}
	if recs[0].RequestBody != string(got[0].body) || recs[0].RequestBodyTruncated {
		t.Errorf("attempt 1: recorded body %q (truncated %v), want %q", recs[0].RequestBody, recs[0].RequestBodyTruncated, got[0].body)
	}
	if recs[1].RequestBody != "" || recs[1].RequestBodyTruncated {
		t.Errorf("attempt 2: recorded body %q (truncated %v), want none", recs[1].RequestBody, recs[1].RequestBodyTruncated)
	}
}

// shortened is the signature header value v as a record keeps it, made
// here from the format: t whole, each v1 its first 8 characters and "…".
func shortened(t *testing.T, v string) string {
	t.Helper()
	segs := strings.Split(v, ",")
	if len(segs) != 3 || !strings.HasPrefix(segs[0], "t=") {
		t.Fatalf("signature %q: want t and two v1", v)
	}
	for i := 1; i < len(segs); i++ {
		if len(segs[i]) != len("v1=")+64 {
			t.Fatalf("signature segment %q is not v1=<64 hex>", segs[i])
		}
		segs[i] = segs[i][:len("v1=")+8] + "…"
	}
	return strings.Join(segs, ",")
}

func TestRecordedHeaders(t *testing.T) {
	for _, tc := range []struct {
		name    string
		header  http.Header
		bodyLen int
		want    map[string]string
	}{
		{"nil", nil, 10, nil},
		{"repeated values, credentials", http.Header{
			"Accept":              {"a", "b"},
			"Authorization":       {"Bearer x"},
			"Proxy-Authorization": {"Basic y"},
			"X-Empty":             {},
		}, 42, map[string]string{"Accept": maskedValue, "Content-Length": "42"}},
		{"non-canonical name", http.Header{"x-thing": {"1"}}, 0, map[string]string{"X-Thing": maskedValue, "Content-Length": "0"}},
		{"own headers", http.Header{"Content-Type": {"application/json"}, "Sixtyfour-Event-Id": {"e1"}, "User-Agent": {"ua"}}, 2,
			map[string]string{"Content-Type": "application/json", "Sixtyfour-Event-Id": "e1", "User-Agent": "ua", "Content-Length": "2"}},
		{"signature", http.Header{sign.HeaderName: {"t=1700000000,v1=d375345f515da627e0b7a8bba8f32d7c8dc8b676580779b93a1ef8dcbf2acebe"}}, 1,
			map[string]string{sign.HeaderName: "t=1700000000,v1=d375345f…", "Content-Length": "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := recordedHeaders(tc.header, tc.bodyLen); !maps.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Errorf("recordedHeaders = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestShortenSignature(t *testing.T) {
	mac := strings.Repeat("0123456789abcdef", 4)
	for _, tc := range []struct{ in, want string }{
		{"t=1,v1=" + mac, "t=1,v1=01234567…"},
		{"t=1,v1=" + mac + ",v1=" + mac, "t=1,v1=01234567…,v1=01234567…"},
		{"t=1,v0=" + mac, "t=1,v0=01234567…"},
		{"t=1,v1=short", "t=1,v1=short"},
		{"garbage", "garbage"},
		{"", ""},
	} {
		if got := shortenSignature(tc.in); got != tc.want {
			t.Errorf("shortenSignature(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRecordedBody(t *testing.T) {
	const max = envelope.MaxRecordedBody
	ascii := strings.Repeat("a", max)
	for _, tc := range []struct {
		name    string
		body    string
		want    string
		wantCut bool
	}{
		{"empty", "", "", false},
		{"small", `{"a":"é"}`, `{"a":"é"}`, false},
		{"exactly the limit", ascii, ascii, false},
		{"one byte over", ascii + "b", ascii, true},
		// "é" is 2 bytes, "€" 3, "🙂" 4: each starts 1 byte before the limit.
		{"2-byte rune across the limit", ascii[:max-1] + "é", ascii[:max-1], true},
		{"3-byte rune across the limit", ascii[:max-1] + "€", ascii[:max-1], true},
		{"4-byte rune across the limit", ascii[:max-2] + "🙂", ascii[:max-2], true},
		{"4-byte rune ending at the limit", ascii[:max-4] + "🙂x", ascii[:max-4] + "🙂", true},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, cut := recordedBody([]byte(tc.body))
			if got != tc.want || cut != tc.wantCut {
				t.Errorf("recordedBody = %d bytes %.20q… (cut %v), want %d bytes (cut %v)", len(got), got, cut, len(tc.want), tc.wantCut)
			}
			if len(got) > max || !utf8.ValidString(got) {
				t.Errorf("recordedBody = %d bytes, valid UTF-8 %v; want at most %d, valid", len(got), utf8.ValidString(got), max)
			}
		})
	}
}

// BenchmarkRecordCapture measures what recording the request adds to an
// attempt record of a 1 KiB job: "capture" builds the headers and the
// body, "encode" and "encode_without" encode the record with and without
// them (the record is published on every attempt).
func BenchmarkRecordCapture(b *testing.B) {
	body := []byte(`{"id":"evt","type":"job.completed","data":{"notes":"` + strings.Repeat("x", 960) + `"}}`)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Sixtyfour-Webhooks/0.1.0")
	h.Set(HeaderEventID, "0b7f4c1e-0a52-4c53-9d5e-1f0e7b2f7a11")
	h.Set(HeaderEventType, "find_email")
	h.Set(HeaderAttempt, "1")
	h.Set(sign.HeaderName, sign.Header(1736942400, body, testSecret))
	now := time.Now()
	rec := &envelope.AttemptRecord{V: 1, EventID: "0b7f4c1e-0a52-4c53-9d5e-1f0e7b2f7a11", OrgID: "org_bench",
		Source: envelope.SourceJob, EventType: "find_email", Host: "127.0.0.1", Attempt: 1, QueuedAt: now,
		StartedAt: now, FinishedAt: now, DurationMS: 1.5, Sent: true, StatusCode: 200,
		Decision: envelope.DecisionDelivered, State: envelope.StateDelivered, Final: true}
	b.Run("capture", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = recordedHeaders(h, len(body))
			_, _ = recordedBody(body)
		}
	})
	b.Run("encode_without", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rec.Encode(); err != nil {
				b.Fatal(err)
			}
		}
	})
	with := *rec
	with.RequestHeaders = recordedHeaders(h, len(body))
	with.RequestBody, with.RequestBodyTruncated = recordedBody(body)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := with.Encode(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
