package envelope

import (
	stdjson "encoding/json"
	"fmt"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/sixtyfour-oss/webhooks/pkg/strictjson"
)

// wireRequest mirrors Request with pointers for every required field, so
// that Decode can tell a missing field from a zero value.
type wireRequest struct {
	V              *int              `json:"v"`
	EventID        *string           `json:"event_id"`
	OrgID          *string           `json:"org_id"`
	Source         *Source           `json:"source"`
	EventType      *string           `json:"event_type"`
	URL            *string           `json:"url"`
	Headers        map[string]string `json:"headers"`
	TimeoutSeconds *float64          `json:"timeout_seconds"`
	CreatedAt      *time.Time        `json:"created_at"`
	Job            *wireJob          `json:"job"`
	Workflow       *wireWorkflow     `json:"workflow"`
}

type wireJob struct {
	TaskID   *string        `json:"task_id"`
	Status   *string        `json:"status"`
	TaskType *string        `json:"task_type"`
	Result   jsontext.Value `json:"result"`
	Error    *string        `json:"error"`
}

type wireWorkflow struct {
	WorkflowID             *string        `json:"workflow_id"`
	RunID                  *string        `json:"run_id"`
	RowCount               *int           `json:"row_count"`
	PreviousBlockID        *string        `json:"previous_block_id"`
	PreviousBlockName      *string        `json:"previous_block_name"`
	PreviousBlockNumber    *int           `json:"previous_block_number"`
	StartedAt              *time.Time     `json:"started_at"`
	IncludeCSVDownloadLink *bool          `json:"include_csv_download_link"`
	ResultsDownloadURL     *string        `json:"results_download_url"`
	ResultsObject          *string        `json:"results_object"`
	Results                jsontext.Value `json:"results"`
}

// Decode parses and validates a delivery request. It returns an error
// wrapping ErrMalformed for input that is not one JSON object of the right
// shape (syntax errors, wrong types, unknown or duplicate fields, member
// names in another case, invalid UTF-8, trailing data, null: see
// pkg/strictjson; the error also wraps the *strictjson.Errors listing
// every problem), ErrUnknownVersion for a "v" other than Version,
// and a *ValidationError for missing or invalid fields. urls decides
// whether plain http is accepted.
//
// The input is read once: the decoder checks the syntax of the raw result
// values, which validation then does not scan again.
func Decode(data []byte, urls URLPolicy) (*Request, error) {
	var w wireRequest
	if err := strictjson.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if w.V == nil {
		return nil, &ValidationError{Fields: []FieldError{{Field: "v", Message: "required"}}}
	}
	if *w.V != Version {
		return nil, fmt.Errorf("%w: v=%d (this deliverer understands v=%d)", ErrUnknownVersion, *w.V, Version)
	}
	var p problems
	r := w.request(&p)
	if err := p.err(); err != nil {
		return nil, err
	}
	if err := r.validate(urls, true); err != nil {
		return nil, err
	}
	return r, nil
}

// request converts the wire form, recording each missing required field.
func (w *wireRequest) request(p *problems) *Request {
	r := &Request{
		V:         *w.V,
		EventID:   str(p, "event_id", w.EventID),
		OrgID:     str(p, "org_id", w.OrgID),
		EventType: str(p, "event_type", w.EventType),
		URL:       str(p, "url", w.URL),
		Headers:   w.Headers,
	}
	if w.Source == nil {
		p.add("source", "required")
	} else {
		r.Source = *w.Source
	}
	if w.CreatedAt == nil {
		p.add("created_at", "required")
	} else {
		r.CreatedAt = *w.CreatedAt
	}
	if w.TimeoutSeconds != nil {
		if *w.TimeoutSeconds <= 0 {
			p.add("timeout_seconds", "must be > 0 and <= 300")
		}
		r.TimeoutSeconds = *w.TimeoutSeconds
	}
	if w.Job != nil {
		r.Job = w.Job.job(p)
	}
	if w.Workflow != nil {
		r.Workflow = w.Workflow.run(p)
	}
	return r
}

func (w *wireJob) job(p *problems) *JobResult {
	j := &JobResult{
		TaskID:   str(p, "job.task_id", w.TaskID),
		Status:   str(p, "job.status", w.Status),
		TaskType: str(p, "job.task_type", w.TaskType),
		Result:   rawResult(w.Result),
	}
	if w.Error != nil {
		j.Error = *w.Error
	}
	return j
}

func (w *wireWorkflow) run(p *problems) *WorkflowRun {
	r := &WorkflowRun{
		WorkflowID:         str(p, "workflow.workflow_id", w.WorkflowID),
		RunID:              str(p, "workflow.run_id", w.RunID),
		PreviousBlockID:    str(p, "workflow.previous_block_id", w.PreviousBlockID),
		PreviousBlockName:  str(p, "workflow.previous_block_name", w.PreviousBlockName),
		ResultsDownloadURL: w.ResultsDownloadURL,
		Results:            rawResult(w.Results),
	}
	if w.RowCount == nil {
		p.add("workflow.row_count", "required")
	} else {
		r.RowCount = *w.RowCount
	}
	if w.PreviousBlockNumber == nil {
		p.add("workflow.previous_block_number", "required")
	} else {
		r.PreviousBlockNumber = *w.PreviousBlockNumber
	}
	if w.StartedAt != nil {
		r.StartedAt = *w.StartedAt
	}
	if w.IncludeCSVDownloadLink != nil {
		r.IncludeCSVDownloadLink = *w.IncludeCSVDownloadLink
	}
	if w.ResultsObject != nil {
		r.ResultsObject = *w.ResultsObject
	}
	return r
}

// rawResult returns a raw result or results value as read (Render
// compacts it), and nil for null.
func rawResult(v jsontext.Value) stdjson.RawMessage {
	if len(v) == 0 || v.Kind() == 'n' {
		return nil
	}
	return stdjson.RawMessage(v)
}

// str dereferences a required string field, recording it when missing.
func str(p *problems, field string, v *string) string {
	if v == nil {
		p.add(field, "required")
		return ""
	}
	return *v
}
