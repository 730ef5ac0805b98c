package envelope

import (
	"math"
	"testing"
	"time"
)

// FuzzAttemptRecordJSON checks AppendJSON and Encode against the
// reflection-based encoder (checkAttemptJSON) for records made of fuzzed
// strings (invalid UTF-8, control characters, U+2028 and the like in
// every kind of field and in header names), numbers, floats (any bit
// pattern: NaN, infinities, subnormals, huge and tiny values), times (any
// instant, in any zone offset, so years outside 0 to 9999 too) and the
// presence of each optional field (flags).
func FuzzAttemptRecordJSON(f *testing.F) {
	f.Add("evt-1", "ok", "Content-Type", "application/json", int64(200), 1.5, int64(1776888000), int32(123456789), int32(0), uint16(0xffff))
	f.Add("a\u2028b\u2029", "bad \xff byte\n\t\"q\"\\\x00\x1f\x7f", "A\xff", "<&>", int64(-1), math.NaN(), int64(-62135596801), int32(0), int32(-86400), uint16(0x5555))
	f.Add("", "", "", "", int64(math.MinInt64), 1e21, int64(253402300800), int32(999999999), int32(86399), uint16(0))
	f.Add("é€🙂", "\uFFFD\xc3", "b", "\xed\xa0\x80", int64(math.MaxInt64), 1e-7, int64(0), int32(1), int32(-30), uint16(0xaaaa))
	f.Add("x", "y", "k", "v", int64(0x7ff0000000000001), 5e-324, int64(-1<<62), int32(-5), int32(1<<30), uint16(0x0f0f))
	f.Fuzz(func(t *testing.T, id, text, key, value string, n int64, x float64, sec int64, nsec, offset int32, flags uint16) {
		flag := func(i int) bool { return flags&(1<<i) != 0 }
		at := time.Unix(sec, int64(nsec)).In(time.FixedZone("z", int(offset)))
		if flag(0) {
			at = at.UTC()
		}
		r := &AttemptRecord{V: int(n), EventID: id, OrgID: text, Source: Source(key), EventType: value,
			Host: id + text, Replay: int(n >> 3), Attempt: int(int32(n)), QueuedAt: at, StartedAt: at.Add(time.Duration(n)),
			DurationMS: x, Sent: flag(1), StatusCode: int(int16(n)), ResponseExcerpt: text, Decision: value,
			RetryDelayMS: n >> 1, State: key, Final: flag(2), RequestBodyTruncated: flag(3)}
		if flag(4) {
			r.TaskID, r.RunID, r.WorkflowID, r.ErrorClass, r.Error = id, text, key, value, text+id
			r.RetryDelayFrom, r.RequestBody = key, text
		}
		if flag(5) {
			r.FinishedAt = time.Unix(0, n)
		}
		if flag(6) {
			next := at.Add(time.Duration(sec))
			r.NextAttemptAt = &next
		}
		if flag(7) {
			r.DurationMS = math.Float64frombits(uint64(n))
		}
		if flag(8) {
			r.RequestHeaders = map[string]string{}
		}
		if flag(9) {
			r.RequestHeaders = map[string]string{key: value, value: key, id: text, text + "\xff": id, "Content-Length": "7"}
		}
		if flag(10) {
			code, resp, ok := int(n), text, flag(11)
			r.WebhookStatusCode, r.WebhookResponse, r.WebhookSuccess = &code, &resp, &ok
		}
		checkAttemptJSON(t, r)
	})
}
