package envelope_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// A job runner builds the delivery request of a finished job, encodes it
// for the WEBHOOKS stream, and a deliverer decodes it again; the body the
// customer receives is the job's result envelope.
func ExampleNewJobRequest() {
	created := time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC)
	req, err := envelope.NewJobRequest(created, "org_456", "https://your-server.com/webhooks/sixtyfour", envelope.JobResult{
		TaskID:   "9f0c5c1e-8d1b-4a5e-9e2f-0c1d2e3f4a5b",
		Status:   envelope.StatusCompleted,
		TaskType: "find_email",
		Result:   json.RawMessage(`{"email":"john@acme.com"}`),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	data, err := req.Encode()
	if err != nil {
		fmt.Println(err)
		return
	}
	got, err := envelope.Decode(data, envelope.URLPolicy{})
	if err != nil {
		fmt.Println(err)
		return
	}
	body, err := got.Job.Body()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(got.Source, got.EventType, got.Host(), got.Timeout())
	fmt.Println(string(body))
	// Output:
	// job find_email your-server.com 10s
	// {"task_id":"9f0c5c1e-8d1b-4a5e-9e2f-0c1d2e3f4a5b","status":"completed","task_type":"find_email","result":{"email":"john@acme.com"}}
}

// A request that breaks the rules is refused by Validate with every bad
// field named, so a caller can show them all at once.
func ExampleRequest_Validate() {
	req, err := envelope.NewJobRequest(time.Now(), "org 456", "http://your-server.com/hook", envelope.JobResult{
		TaskID: "t1", Status: "done", TaskType: "find_email",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = req.Validate(envelope.URLPolicy{})
	var ve *envelope.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			fmt.Printf("%s: %s\n", f.Field, f.Message)
		}
	}
	fmt.Println(errors.Is(err, envelope.ErrInvalid))
	// Output:
	// org_id: must match [A-Za-z0-9_-]{1,64}
	// url: must use https (plain http is allowed only when the operator enables it)
	// job.status: must be "completed" or "failed"
	// true
}
