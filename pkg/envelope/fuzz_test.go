package envelope

import (
	"os"
	"testing"
	"time"
)

// FuzzDecode feeds arbitrary bytes to Decode: it must never panic, and
// whatever it accepts must encode, decode again and render a body.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"request_job.json", "request_workflow.json"} {
		raw, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{"v":2,"event_id":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := Decode(data, URLPolicy{AllowHTTP: true})
		if err != nil {
			return
		}
		enc, err := req.Encode()
		if err != nil {
			t.Fatalf("accepted request does not encode: %v", err)
		}
		if _, err := Decode(enc, URLPolicy{AllowHTTP: true}); err != nil {
			t.Fatalf("re-decode of accepted request failed: %v\n%s", err, enc)
		}
		if _, err := req.Body(1, time.Unix(1776888000, 0)); err != nil {
			t.Fatalf("accepted request does not render: %v", err)
		}
	})
}
