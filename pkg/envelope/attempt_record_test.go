package envelope

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// attemptRecord is a valid record of a first attempt, delivered.
func attemptRecord() *AttemptRecord {
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	return &AttemptRecord{V: 1, EventID: "evt-1", OrgID: "org_1", Source: SourceJob, EventType: "find_email",
		Host: "hooks.example.com", Attempt: 1, QueuedAt: now, StartedAt: now, FinishedAt: now, Sent: true,
		StatusCode: 200, ResponseExcerpt: "ok", Decision: DecisionDelivered, State: StateDelivered, Final: true}
}

// The request an attempt sent survives Encode and DecodeAttemptRecord,
// under its JSON names; a record without one has none of those names.
func TestAttemptRecordRequest(t *testing.T) {
	r := attemptRecord()
	r.RequestHeaders = map[string]string{"Content-Type": "application/json", "Sixtyfour-Signature": "t=1,v1=d375345f…"}
	r.RequestBody, r.RequestBodyTruncated = `{"a":"é <b> \u2028"}`, true
	data, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var names map[string]json.RawMessage
	if err := json.Unmarshal(data, &names); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"request_headers", "request_body", "request_body_truncated"} {
		if _, ok := names[name]; !ok {
			t.Errorf("%s has no %q", data, name)
		}
	}
	got, err := DecodeAttemptRecord(data)
	if err != nil {
		t.Fatalf("DecodeAttemptRecord: %v", err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
	}

	plain, err := attemptRecord().Encode()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(plain), "request_") {
		t.Errorf("a record without a request encodes %s", plain)
	}
}

// A body longer than MaxRecordedBody is malformed; one of exactly that
// many bytes is not. (Invalid UTF-8 cannot come out of JSON: the decoder
// replaces it.)
func TestAttemptRecordBodyLimit(t *testing.T) {
	r := attemptRecord()
	r.RequestBody = strings.Repeat("a", MaxRecordedBody+1)
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeAttemptRecord(data); !errors.Is(err, ErrMalformed) {
		t.Errorf("DecodeAttemptRecord: err = %v, want ErrMalformed", err)
	}
	r = attemptRecord()
	r.RequestBody = strings.Repeat("é", MaxRecordedBody/2)
	data, _ = r.Encode()
	if _, err := DecodeAttemptRecord(data); err != nil {
		t.Errorf("a body of exactly MaxRecordedBody bytes: %v", err)
	}
}
