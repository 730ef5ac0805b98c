package envelope

import (
	"bytes"
	"encoding/json"
	"strconv"

	jsonv1 "github.com/go-json-experiment/json/v1"
)

// Job statuses: a job result is either completed (with a result object) or
// failed (with an error message).
const (
	// StatusCompleted marks a job that finished and carries a result object.
	StatusCompleted = "completed"
	// StatusFailed marks a job that failed and carries an error message.
	StatusFailed = "failed"
)

// JobResult is the async-job result envelope of the product page, field for
// field and in its order: task_id, status, task_type, then result (only when
// completed) or error (only when failed). It is also the exact body POSTed to
// the customer for an async-job delivery.
type JobResult struct {
	// TaskID is the job's id (the product uses UUIDs; any id of at most
	// MaxIDLength bytes is accepted).
	TaskID string `json:"task_id"`
	// Status is StatusCompleted or StatusFailed.
	Status string `json:"status"`
	// TaskType names the kind of job, such as "find_email"; it matches
	// [a-z0-9_.]{1,64} and is also the Sixtyfour-Event-Type header.
	TaskType string `json:"task_type"`
	// Result is the job's result, a JSON object; present only when Status
	// is StatusCompleted.
	Result json.RawMessage `json:"result,omitempty"`
	// Error describes the failure; present (non-empty) only when Status is
	// StatusFailed.
	Error string `json:"error,omitempty"`
}

// check validates the job result; prefix is the JSON path of the job
// ("job" inside a request). rawChecked says Result is known to be valid JSON.
func (j *JobResult) check(p *problems, prefix string, rawChecked bool) {
	checkID(p, prefix+".task_id", j.TaskID)
	if !ValidTaskType(j.TaskType) {
		p.add(prefix+".task_type", "must match [a-z0-9_.]{1,64}")
	}
	switch j.Status {
	case StatusCompleted:
		if len(j.Result) == 0 {
			p.add(prefix+".result", "required when status is completed")
		} else if !isJSONObject(j.Result, rawChecked) {
			p.add(prefix+".result", "must be a JSON object")
		}
		if j.Error != "" {
			p.add(prefix+".error", "only allowed when status is failed")
		}
	case StatusFailed:
		if j.Error == "" {
			p.add(prefix+".error", "required when status is failed")
		} else if len(j.Error) > MaxErrorLength {
			p.add(prefix+".error", "longer than "+strconv.Itoa(MaxErrorLength)+" bytes")
		}
		if len(j.Result) != 0 {
			p.add(prefix+".result", "only allowed when status is completed")
		}
	case "":
		p.add(prefix+".status", "required")
	default:
		p.add(prefix+".status", `must be "completed" or "failed"`)
	}
}

// Body returns the exact bytes POSTed for this job result: compact JSON in
// the product's field order, without HTML escaping.
func (j *JobResult) Body() ([]byte, error) { return marshal(j) }

// isJSONObject reports whether raw is valid JSON whose top level is an
// object; valid says the syntax is already known to be valid.
func isJSONObject(raw json.RawMessage, valid bool) bool {
	t := bytes.TrimLeft(raw, " \t\r\n")
	return len(t) > 0 && t[0] == '{' && (valid || json.Valid(raw))
}

// isJSONArrayOrNull reports whether raw is valid JSON whose top level is an
// array or null. An empty raw counts as null; valid says the syntax is
// already known to be valid.
func isJSONArrayOrNull(raw json.RawMessage, valid bool) bool {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return true
	}
	return t[0] == '[' && (valid || json.Valid(raw))
}

// marshal encodes v as compact JSON without HTML escaping and without the
// trailing newline json.Encoder adds. It uses encoding/json's semantics,
// byte for byte, as implemented on the faster json/v2 engine
// (github.com/go-json-experiment/json/v1, which Go 1.27's encoding/json is).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := jsonv1.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
