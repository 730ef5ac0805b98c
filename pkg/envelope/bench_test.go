package envelope

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// benchRequest is a job request of the benchmark's size (cmd/bench): a
// POSTed body of about 1 KiB.
func benchRequest(b *testing.B) []byte {
	b.Helper()
	req, err := NewJobRequest(time.Now(), "org_bench", "http://127.0.0.1:8080/hook", JobResult{
		TaskID: "task-1", Status: StatusCompleted, TaskType: "find_email",
		Result: json.RawMessage(`{"name":"John Doe","company":"Acme Inc","email":[["john.doe@acme.com","OK"]],"notes":"` +
			strings.Repeat("x", 860) + `"}`),
	})
	if err != nil {
		b.Fatal(err)
	}
	data, err := req.Encode()
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkDecode measures what the deliverer does first with every message.
func BenchmarkDecode(b *testing.B) {
	data := benchRequest(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data, URLPolicy{AllowHTTP: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRender measures the body of one attempt.
func BenchmarkRender(b *testing.B) {
	req, err := Decode(benchRequest(b), URLPolicy{AllowHTTP: true})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	now := time.Now()
	for b.Loop() {
		if _, err := req.Render(Attempt{Number: 1, SentAt: now}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOutcomeEncode measures the record written for every event.
func BenchmarkOutcomeEncode(b *testing.B) {
	now := time.Now()
	o := &Outcome{V: 1, EventID: "0b7f4c1e-0a52-4c53-9d5e-1f0e7b2f7a11", OrgID: "org_bench", Source: SourceJob,
		EventType: "find_email", TaskID: "task-1", Host: "127.0.0.1", State: StateDelivered, Final: true, Success: true,
		Attempts: 1, StatusCode: 204, QueuedAt: now, FirstAttemptAt: now, LastAttemptAt: now}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}
