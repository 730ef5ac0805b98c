package envelope

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// checkAttemptJSON checks that Encode and AppendJSON write r as the
// reflection-based encoder that Encode used before (marshal) writes it,
// byte for byte, and as encoding/json does: byte for byte when every
// string is valid UTF-8, the same JSON value otherwise (encoding/json
// writes U+FFFD as the escape \ufffd, marshal as the character). A record
// that marshal refuses, Encode must refuse, and AppendJSON must still
// write valid JSON.
func checkAttemptJSON(t *testing.T, r *AttemptRecord) {
	t.Helper()
	want, wantErr := marshal(r)
	std, stdErr := stdlibMarshal(r)
	got, gotErr := r.Encode()
	if (wantErr != nil) != (stdErr != nil) {
		t.Fatalf("marshal error %v, encoding/json error %v", wantErr, stdErr)
	}
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("Encode error %v, marshal error %v (marshal wrote %s)", gotErr, wantErr, want)
	}
	appended := r.AppendJSON([]byte("prefix"))
	if !bytes.HasPrefix(appended, []byte("prefix")) {
		t.Fatalf("AppendJSON lost dst: %s", appended)
	}
	if wantErr != nil {
		if !json.Valid(appended[len("prefix"):]) {
			t.Fatalf("AppendJSON of a record Encode refuses wrote invalid JSON: %s", appended)
		}
		return
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode wrote\n%s\nmarshal writes\n%s", got, want)
	}
	if !bytes.Equal(appended[len("prefix"):], want) {
		t.Fatalf("AppendJSON wrote\n%s\nmarshal writes\n%s", appended, want)
	}
	if bytes.Equal(got, std) {
		return
	}
	var gotV, stdV any
	if hasInvalidUTF8(r) && json.Unmarshal(got, &gotV) == nil && json.Unmarshal(std, &stdV) == nil &&
		reflect.DeepEqual(gotV, stdV) {
		return
	}
	t.Fatalf("Encode wrote\n%s\nencoding/json writes\n%s", got, std)
}

// hasInvalidUTF8 reports whether a string of r is not valid UTF-8.
func hasInvalidUTF8(r *AttemptRecord) bool {
	strs := []string{r.EventID, r.OrgID, string(r.Source), r.EventType, r.TaskID, r.RunID, r.WorkflowID, r.Host,
		r.ResponseExcerpt, r.ErrorClass, r.Error, r.Decision, r.RetryDelayFrom, r.RequestBody, r.State}
	if r.WebhookResponse != nil {
		strs = append(strs, *r.WebhookResponse)
	}
	for name, value := range r.RequestHeaders {
		strs = append(strs, name, value)
	}
	for _, s := range strs {
		if !utf8.ValidString(s) {
			return true
		}
	}
	return false
}

// fullAttemptRecord is a retried workflow attempt with every field set.
func fullAttemptRecord() *AttemptRecord {
	r := attemptRecord()
	r.Source, r.TaskID, r.RunID, r.WorkflowID = SourceWorkflow, "task-1", "run-1", "wf-1"
	r.Replay, r.Attempt, r.DurationMS, r.StatusCode = 2, 3, 12.345, 503
	r.ResponseExcerpt, r.ErrorClass, r.Error = "busy", "response", "status 503"
	r.Decision, r.State, r.Final = DecisionRetry, StateRetrying, false
	next := r.QueuedAt.Add(90 * time.Second)
	r.RetryDelayMS, r.RetryDelayFrom, r.NextAttemptAt = 90000, "retry_after", &next
	r.RequestHeaders = map[string]string{"Content-Type": "application/json", "Content-Length": "7",
		"Sixtyfour-Signature": "t=1,v1=d375345f…", "X-Api-Key": "•••• (custom header, not recorded)"}
	r.RequestBody, r.RequestBodyTruncated = `{"a":1}`, true
	code, resp, ok := 0, "", false
	r.WebhookStatusCode, r.WebhookResponse, r.WebhookSuccess = &code, &resp, &ok
	return r
}

func TestAttemptRecordAppendJSON(t *testing.T) {
	var controls strings.Builder
	for c := range 0x20 {
		controls.WriteByte(byte(c))
	}
	manyHeaders := map[string]string{}
	for i := range 40 {
		manyHeaders["X-H-"+strconv.Itoa(i*7%40)] = strconv.Itoa(i)
	}
	zone := func(name string, offset int) *time.Location { return time.FixedZone(name, offset) }
	base := attemptRecord().QueuedAt
	for _, tc := range []struct {
		name string
		edit func(r *AttemptRecord)
	}{
		{"a delivered first attempt", func(r *AttemptRecord) {}},
		{"every field set", func(r *AttemptRecord) { *r = *fullAttemptRecord() }},
		{"zero values", func(r *AttemptRecord) { *r = AttemptRecord{RequestHeaders: map[string]string{}} }},
		{"negative numbers", func(r *AttemptRecord) {
			code := math.MinInt
			r.V, r.Replay, r.Attempt, r.StatusCode, r.RetryDelayMS = -1, -2, math.MaxInt, -404, math.MinInt64
			r.WebhookStatusCode, r.DurationMS = &code, -0.5
		}},
		{"control characters", func(r *AttemptRecord) { r.Error = controls.String() }},
		{"quotes, backslashes, HTML, DEL", func(r *AttemptRecord) { r.RequestBody = `{"a":"<b>&amp;\\"}` + "\x7f" }},
		{"U+2028, U+2029, U+FFFD and others", func(r *AttemptRecord) {
			r.ResponseExcerpt = "a\u2028b\u2029c\uFFFDé€🙂\u2027\u202a"
		}},
		{"invalid UTF-8", func(r *AttemptRecord) {
			r.Host, r.RequestBody = "h\xff", "a\xc3(b\xed\xa0\x80c\xf0\x9f\x99d\xff"
			r.RequestHeaders = map[string]string{"A\xff": "1", "A\xfe": "2", "A\uFFFD": "3", "B": "\x80"}
		}},
		{"headers sorted by byte order", func(r *AttemptRecord) {
			r.RequestHeaders = map[string]string{"b": "1", "B": "2", "a": "3", "Ab": "4", "A": "5", "": "6", "é": "7"}
		}},
		{"more headers than fit on the stack", func(r *AttemptRecord) { r.RequestHeaders = manyHeaders }},
		{"times in zones", func(r *AttemptRecord) {
			r.QueuedAt = base.In(zone("IST", 5*3600+30*60))
			r.StartedAt = base.Add(123 * time.Millisecond).In(zone("PST", -8*3600))
			r.FinishedAt = base.Add(time.Nanosecond).In(zone("odd", 3600+30))
			next := base.In(zone("almost", -30))
			r.NextAttemptAt = &next
		}},
		{"times at the edges", func(r *AttemptRecord) {
			r.QueuedAt = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
			r.StartedAt = time.Date(0, 1, 1, 0, 0, 0, 0, zone("late", 23*3600+59*60))
			r.FinishedAt = time.Time{}
		}},
		{"year 10000", func(r *AttemptRecord) { r.StartedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"year -1", func(r *AttemptRecord) { r.FinishedAt = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"zone offset of 24 hours", func(r *AttemptRecord) { r.QueuedAt = base.In(zone("far", -24*3600)) }},
		{"next attempt in year 10000", func(r *AttemptRecord) {
			next := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
			r.NextAttemptAt = &next
		}},
		{"NaN duration", func(r *AttemptRecord) { r.DurationMS = math.NaN() }},
		{"infinite duration", func(r *AttemptRecord) { r.DurationMS = math.Inf(-1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := attemptRecord()
			tc.edit(r)
			checkAttemptJSON(t, r)
		})
	}
}

// Every float64 is formatted as encoding/json formats it, on both sides
// of the switches to and from exponent notation.
func TestAttemptRecordDurationFormat(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1, 1.5, -1.5, 0.1 + 0.2, 1e-6, 9.999999e-7, -1e-7,
		1e20, 1e21, -1e21, 123456789012345678901234, 1e100, 5e-324, math.SmallestNonzeroFloat64,
		math.MaxFloat64, -math.MaxFloat64, 1.7976931348623157e308, 2.5e-10, 1e-100} {
		t.Run(strconv.FormatFloat(f, 'g', -1, 64), func(t *testing.T) {
			r := attemptRecord()
			r.DurationMS = f
			checkAttemptJSON(t, r)
		})
	}
}

// benchAttemptRecord is the record of a 1 KiB job's attempt, with the
// request it sent when withRequest (as internal/deliver records it).
func benchAttemptRecord(withRequest bool) *AttemptRecord {
	now := time.Now()
	r := &AttemptRecord{V: 1, EventID: "0b7f4c1e-0a52-4c53-9d5e-1f0e7b2f7a11", OrgID: "org_bench",
		Source: SourceJob, EventType: "find_email", Host: "127.0.0.1", Attempt: 1, QueuedAt: now,
		StartedAt: now, FinishedAt: now, DurationMS: 1.5, Sent: true, StatusCode: 200,
		Decision: DecisionDelivered, State: StateDelivered, Final: true}
	if withRequest {
		r.RequestBody = `{"id":"evt","type":"job.completed","data":{"notes":"` + strings.Repeat("x", 960) + `"}}`
		r.RequestHeaders = map[string]string{"Content-Type": "application/json", "User-Agent": "Sixtyfour-Webhooks/0.1.0",
			"Sixtyfour-Event-Id": r.EventID, "Sixtyfour-Event-Type": "find_email", "Sixtyfour-Attempt": "1",
			"Sixtyfour-Signature": "t=1736942400,v1=d375345f…", "Content-Length": strconv.Itoa(len(r.RequestBody))}
	}
	return r
}

// Encode makes one allocation, the record's buffer, and AppendJSON none
// into a buffer that is large enough: the deliverer encodes a record per
// attempt.
func TestAttemptRecordEncodeAllocs(t *testing.T) {
	r := benchAttemptRecord(true)
	if n := testing.AllocsPerRun(100, func() { _, _ = r.Encode() }); n > 1 {
		t.Errorf("Encode: %v allocations, want 1", n)
	}
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf = r.AppendJSON(buf[:0]) }); n > 0 {
		t.Errorf("AppendJSON: %v allocations, want 0", n)
	}
}

// BenchmarkAttemptRecordEncode measures the record published on every
// attempt, without and with the request it sent (headers and a 1 KiB
// body): Encode, AppendJSON into a reused buffer, and the reflection-based
// encoder that Encode used before.
func BenchmarkAttemptRecordEncode(b *testing.B) {
	for _, withRequest := range []bool{false, true} {
		r := benchAttemptRecord(withRequest)
		name := map[bool]string{false: "without_request", true: "with_request"}[withRequest]
		b.Run(name+"/Encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Encode(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/AppendJSON", func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				buf = r.AppendJSON(buf[:0])
			}
		})
		b.Run(name+"/reflection", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := marshal(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// plainRun stops at the first byte that is not plain ASCII, whichever
// its value and its place in a word, and after a second one (a borrow
// from the first must not hide it).
func TestPlainRun(t *testing.T) {
	const n = 16 + 8 + 3 // a double word, a word and single bytes
	for first := range n {
		for c := range 256 {
			s := []byte(strings.Repeat("a", n))
			s[first] = byte(c)
			want := n
			if c >= utf8.RuneSelf || !plainASCII[c] {
				want = first
			}
			if got := plainRun(string(s)); got != want {
				t.Fatalf("plainRun(%q) = %d, want %d", s, got, want)
			}
			if want == n {
				continue
			}
			for second := first + 1; second < n; second++ {
				s := []byte(strings.Repeat(" ", n)) // 0x20, one above the control characters
				s[second] = byte(c)
				if got := plainRun(string(s)); got != second {
					t.Fatalf("plainRun(%q) = %d, want %d", s, got, second)
				}
			}
		}
	}
}
