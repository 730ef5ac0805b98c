package envelope

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the record's JSON form to dst and returns the
// extended slice. The bytes are the ones encoding/json writes for the
// record with HTML escaping off, without the trailing newline: the
// struct's field order and omitempty rules, request_headers sorted by
// name, times in RFC 3339 with nanoseconds (time.Time.MarshalJSON), and
// duration_ms as encoding/json formats a float64. The one difference is
// the one Encode always had (it used the json/v2 engine's v1 mode): each
// byte of invalid UTF-8 becomes U+FFFD written as the character, where
// encoding/json writes the escape \ufffd, the same JSON value. AppendJSON
// uses no reflection and allocates nothing beyond growing dst.
//
// AppendJSON does not check the record: Encode refuses the records that
// encoding/json refuses (see Encode). Given one of them, AppendJSON still
// writes valid JSON: null for a NaN or infinite DurationMS, and each time
// as time.Time.AppendFormat writes it in RFC 3339.
func (r *AttemptRecord) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, int64(r.V), 10)
	dst = appendStringField(dst, `,"event_id":`, r.EventID)
	dst = appendStringField(dst, `,"org_id":`, r.OrgID)
	dst = appendStringField(dst, `,"source":`, string(r.Source))
	dst = appendStringField(dst, `,"event_type":`, r.EventType)
	dst = appendNonEmptyField(dst, `,"task_id":`, r.TaskID)
	dst = appendNonEmptyField(dst, `,"run_id":`, r.RunID)
	dst = appendNonEmptyField(dst, `,"workflow_id":`, r.WorkflowID)
	dst = appendStringField(dst, `,"host":`, r.Host)
	dst = strconv.AppendInt(append(dst, `,"replay":`...), int64(r.Replay), 10)
	dst = strconv.AppendInt(append(dst, `,"attempt":`...), int64(r.Attempt), 10)
	dst = appendTime(append(dst, `,"queued_at":`...), r.QueuedAt)
	dst = appendTime(append(dst, `,"started_at":`...), r.StartedAt)
	dst = appendTime(append(dst, `,"finished_at":`...), r.FinishedAt)
	dst = appendFloat(append(dst, `,"duration_ms":`...), r.DurationMS)
	dst = strconv.AppendBool(append(dst, `,"sent":`...), r.Sent)
	dst = strconv.AppendInt(append(dst, `,"status_code":`...), int64(r.StatusCode), 10)
	dst = appendStringField(dst, `,"response_excerpt":`, r.ResponseExcerpt)
	dst = appendNonEmptyField(dst, `,"error_class":`, r.ErrorClass)
	dst = appendNonEmptyField(dst, `,"error":`, r.Error)
	dst = appendStringField(dst, `,"decision":`, r.Decision)
	if r.RetryDelayMS != 0 {
		dst = strconv.AppendInt(append(dst, `,"retry_delay_ms":`...), r.RetryDelayMS, 10)
	}
	dst = appendNonEmptyField(dst, `,"retry_delay_from":`, r.RetryDelayFrom)
	if r.NextAttemptAt != nil {
		dst = appendTime(append(dst, `,"next_attempt_at":`...), *r.NextAttemptAt)
	}
	if len(r.RequestHeaders) > 0 {
		dst = appendHeaders(append(dst, `,"request_headers":`...), r.RequestHeaders)
	}
	dst = appendNonEmptyField(dst, `,"request_body":`, r.RequestBody)
	if r.RequestBodyTruncated {
		dst = append(dst, `,"request_body_truncated":true`...)
	}
	dst = appendStringField(dst, `,"state":`, r.State)
	dst = strconv.AppendBool(append(dst, `,"final":`...), r.Final)
	return r.appendBlockColumns(dst)
}

// appendBlockColumns appends the workflow block columns that are set and
// closes the object.
func (r *AttemptRecord) appendBlockColumns(dst []byte) []byte {
	if r.WebhookStatusCode != nil {
		dst = strconv.AppendInt(append(dst, `,"webhook_status_code":`...), int64(*r.WebhookStatusCode), 10)
	}
	if r.WebhookResponse != nil {
		dst = appendStringField(dst, `,"webhook_response":`, *r.WebhookResponse)
	}
	if r.WebhookSuccess != nil {
		dst = strconv.AppendBool(append(dst, `,"webhook_success":`...), *r.WebhookSuccess)
	}
	return append(dst, '}')
}

// encodable returns an error naming the first field of the record that
// encoding/json cannot encode: a NaN or infinite duration_ms, or a time
// that time.Time.MarshalJSON refuses (a year outside 0 to 9999, a zone
// offset of 24 hours or more).
func (r *AttemptRecord) encodable() error {
	if math.IsNaN(r.DurationMS) || math.IsInf(r.DurationMS, 0) {
		return fmt.Errorf("duration_ms: unsupported value %v", r.DurationMS)
	}
	for _, f := range [...]struct {
		name string
		t    *time.Time
	}{{"queued_at", &r.QueuedAt}, {"started_at", &r.StartedAt}, {"finished_at", &r.FinishedAt}, {"next_attempt_at", r.NextAttemptAt}} {
		if f.t == nil {
			continue
		}
		if err := rfc3339Encodable(*f.t); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}

// rfc3339Encodable reports why time.Time.MarshalJSON refuses t, or nil:
// RFC 3339 has exactly 4 year digits and zone offsets below 24 hours.
func rfc3339Encodable(t time.Time) error {
	if y := t.Year(); y < 0 || y > 9999 {
		return errors.New("year outside of range [0,9999]")
	}
	// An offset of 0 seconds is written "Z".
	if _, offset := t.Zone(); offset != 0 && offsetHours(offset) >= 24 {
		return errors.New("timezone hour outside of range [0,23]")
	}
	return nil
}

// offsetHours returns the hours of a zone offset in seconds east of UTC
// as RFC 3339 writes them: of the whole minutes, without the sign.
func offsetHours(offset int) int {
	minutes := offset / 60
	if minutes < 0 {
		minutes = -minutes
	}
	return minutes / 60
}

// encodedSizeHint is a size for the record's JSON form that is almost
// always enough: the names and fixed-size values (about 350 bytes, 512
// with room to spare), every string once (headers estimated), and room
// for escapes in one sixteenth of them (a JSON body escapes its quotes).
func (r *AttemptRecord) encodedSizeHint() int {
	n := len(r.EventID) + len(r.OrgID) + len(r.Source) + len(r.EventType) + len(r.TaskID) + len(r.RunID) +
		len(r.WorkflowID) + len(r.Host) + len(r.ResponseExcerpt) + len(r.ErrorClass) + len(r.Error) +
		len(r.Decision) + len(r.RetryDelayFrom) + len(r.RequestBody) + len(r.State)
	if r.WebhookResponse != nil {
		n += len(*r.WebhookResponse)
	}
	n += len(r.RequestHeaders) * headerSizeHint
	return 512 + n + n/16
}

// headerSizeHint is about the size of a request header in a record: its
// name, a value (most are short or masked) and the punctuation.
const headerSizeHint = 64

// appendStringField appends name (the comma, the quoted name and the
// colon) and the JSON string s.
func appendStringField(dst []byte, name, s string) []byte {
	return appendString(append(dst, name...), s)
}

// appendNonEmptyField is appendStringField for an omitempty field: it
// appends nothing when s is empty.
func appendNonEmptyField(dst []byte, name, s string) []byte {
	if s == "" {
		return dst
	}
	return appendStringField(dst, name, s)
}

// appendTime appends t as a JSON string in RFC 3339 with nanoseconds,
// trailing zeros of the fraction dropped (time.Time.MarshalJSON's form).
func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// appendFloat appends f as encoding/json writes a float64: the shortest
// decimal that reads back as f, in plain notation for magnitudes from
// 1e-6 up to (not including) 1e21 and in exponent notation outside that
// range, with an exponent of at least one digit (1e-7, not 1e-07). A NaN
// or an infinity, which have no JSON form, is written as null.
func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// strconv pads the exponent to two digits: e-07 becomes e-7.
		if n := len(dst); dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// appendHeaders appends h as a JSON object with its names in sorted order
// (byte order of the Go strings, as encoding/json sorts them).
func appendHeaders(dst []byte, h map[string]string) []byte {
	type field struct{ name, value string }
	var onStack [16]field
	fields := onStack[:0]
	if len(h) > len(onStack) {
		fields = make([]field, 0, len(h))
	}
	for name, value := range h {
		fields = append(fields, field{name, value})
	}
	slices.SortFunc(fields, func(a, b field) int { return strings.Compare(a.name, b.name) })
	dst = append(dst, '{')
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(appendString(dst, f.name), ':')
		dst = appendString(dst, f.value)
	}
	return append(dst, '}')
}

// plainASCII marks the ASCII bytes that a JSON string holds as they are:
// all but the control characters, '"' and '\\'. ('<', '>' and '&' are
// plain too: HTML escaping is off.)
var plainASCII = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainRun returns the length of the longest prefix of s that is plain
// ASCII (see plainASCII). It tests 16, then 8 bytes at a time (see
// unplainBytes), and the last few bytes, or those of a word that has
// something to escape, one by one.
func plainRun(s string) int {
	const tops = 0x8080808080808080
	i := 0
	for ; len(s)-i >= 16; i += 16 {
		if (unplainBytes(s[i:])|unplainBytes(s[i+8:]))&tops != 0 {
			break
		}
	}
	for ; len(s)-i >= 8; i += 8 {
		if unplainBytes(s[i:])&tops != 0 {
			break
		}
	}
	for ; i < len(s) && s[i] < utf8.RuneSelf && plainASCII[s[i]]; i++ {
	}
	return i
}

// unplainBytes reads the first 8 bytes of s as a uint64 (little endian)
// and returns a word that has the top bit of each byte set that is not
// plain ASCII (see plainASCII), and of no byte if all are plain. A byte
// with its top bit set is not ASCII. Subtracting 0x20 from every byte
// wraps (and sets the top bit of) each byte below 0x20, and subtracting
// 0x01 after an XOR with '"' (or '\\') does the same for the bytes equal to
// it; the borrow of a wrapped byte may mark the next one too, but a word
// of plain bytes has nothing that wraps, and its bytes stay below 0x80.
func unplainBytes(s string) uint64 {
	const ones = 0x0101010101010101
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	return x | (x - ones*0x20) | (x ^ ones*'"' - ones) | (x ^ ones*'\\' - ones)
}

// appendString appends s as a JSON string, escaped as encoding/json
// escapes with HTML escaping off: '"' and '\\' with a backslash; \b, \f,
// \n, \r and \t in short form; the other control characters and U+2028
// and U+2029 (which break JavaScript) as \u00XX and \u202X. Each byte of
// invalid UTF-8 becomes U+FFFD, written as the character.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0 // s[start:i] is plain and not yet appended
	for i := 0; i < len(s); {
		if i += plainRun(s[i:]); i == len(s) {
			break
		}
		if c := s[i]; c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		rn, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case rn == utf8.RuneError && size == 1:
			dst = append(append(dst, s[start:i]...), "\uFFFD"...)
		case rn == '\u2028' || rn == '\u2029':
			dst = append(append(dst, s[start:i]...), '\\', 'u', '2', '0', '2', hex[rn&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
