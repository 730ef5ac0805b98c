package envelope

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"
)

// stdlibMarshal is marshal written with the standard library's
// encoding/json, the reference for the bytes the deliverer POSTs.
func stdlibMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// FuzzMarshalMatchesEncodingJSON checks that the bodies and records this
// package writes are byte for byte what encoding/json writes, for any
// valid UTF-8 strings (U+2028, HTML characters, control characters) and
// any raw result. Invalid UTF-8 (which Decode refuses, so no request
// carries it) becomes U+FFFD in both, written as the character rather than
// encoding/json's \ufffd escape: the same JSON value.
func FuzzMarshalMatchesEncodingJSON(f *testing.F) {
	f.Add("550e8400-e29b-41d4-a716-446655440000", "", []byte(`{"name": "John Doe", "n": [1, 2.5e3]}`), "run_1")
	f.Add("t<&>\u2028\u2029", "bad \xff byte\n\t\"q\"\\", []byte(`{"a":"<b>\u2028"}`), "r\x00\x1f")
	f.Add("", "", []byte(`{}`), "")
	f.Fuzz(func(t *testing.T, id, errText string, result []byte, runID string) {
		now := time.Unix(1776888000, 123456789).UTC()
		values := []any{
			&JobResult{TaskID: id, Status: StatusCompleted, TaskType: "find_email", Result: result, Error: errText},
			&Outcome{V: 1, EventID: id, OrgID: runID, Source: SourceWorkflow, Error: errText, ResponseExcerpt: id,
				QueuedAt: now, FirstAttemptAt: now, Final: true},
		}
		run := WorkflowRun{WorkflowID: id, RunID: runID, PreviousBlockName: errText, Results: result}
		env := run.Envelope(id, runID, now, 2, now.Add(time.Second))
		values = append(values, &env)
		for _, v := range values {
			want, wantErr := stdlibMarshal(v)
			got, gotErr := marshal(v)
			if (wantErr != nil) != (gotErr != nil) {
				t.Fatalf("%T: encoding/json error %v, marshal error %v", v, wantErr, gotErr)
			}
			if wantErr != nil {
				continue
			}
			if utf8.ValidString(id) && utf8.ValidString(errText) && utf8.ValidString(runID) && utf8.Valid(result) {
				if !bytes.Equal(got, want) {
					t.Fatalf("%T: marshal wrote\n%s\nencoding/json writes\n%s", v, got, want)
				}
				continue
			}
			var gotV, wantV any
			if json.Unmarshal(got, &gotV) != nil || json.Unmarshal(want, &wantV) != nil || !reflect.DeepEqual(gotV, wantV) {
				t.Fatalf("%T: marshal wrote\n%s\nencoding/json writes another value\n%s", v, got, want)
			}
		}
	})
}
