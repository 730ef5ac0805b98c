package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/strictjson"
)

// ErrMalformed is wrapped by every error for a body that is not one JSON
// object of the Event shape: empty body, syntax errors, a body that is not
// an object (null, an array, a string...), unknown or duplicate fields,
// invalid UTF-8, trailing data. When the body is an object (or a syntax
// error is found), the error also wraps the *strictjson.Errors that lists
// each problem, wrong value types included. A body whose only problems are
// wrong value types is a *envelope.ValidationError instead, naming each
// field.
var ErrMalformed = errors.New("malformed event")

// Event is the JSON body of POST /v1/events and of `publisher publish
// -file`. Exactly one of Job (Source "job") and Workflow (Source
// "workflow") is set.
type Event struct {
	// EventID is an optional idempotency key chosen by the client: a UUID in
	// canonical lowercase form. A retry with the same id within the stream's
	// dedupe window (2 minutes by default) is not stored twice: the first
	// stored body is kept, even if the retry's differs. Nil means a new id
	// is made.
	EventID *string `json:"event_id"`
	// OrgID is the organization, [A-Za-z0-9_-]{1,64}. Required.
	OrgID string `json:"org_id"`
	// Source is "job" or "workflow". Required.
	Source envelope.Source `json:"source"`
	// URL is the destination (https; http only where the operator allows it).
	URL string `json:"url"`
	// Headers are extra HTTP headers, workflow only; CR and LF are
	// stripped from names.
	Headers map[string]string `json:"headers"`
	// TimeoutSeconds is the per-attempt timeout, workflow only: 0 < x <= 300
	// (capped at 150 when applied). Nil means the default of 10 s.
	TimeoutSeconds *float64 `json:"timeout_seconds"`
	// Job is the async-job result envelope, for Source "job".
	Job *envelope.JobResult `json:"job"`
	// Workflow is the workflow run, for Source "workflow".
	Workflow *WorkflowEvent `json:"workflow"`
}

// WorkflowEvent is the "workflow" object of an Event: envelope.WorkflowRun
// with required numbers as pointers (so a missing one is an error, not a
// silent 0) and started_at as text (so a bad one names the field).
type WorkflowEvent struct {
	// WorkflowID is the workflow definition id. Required.
	WorkflowID string `json:"workflow_id"`
	// RunID is the id of this run. Required.
	RunID string `json:"run_id"`
	// RowCount is the number of result rows, >= 0. Required.
	RowCount *int `json:"row_count"`
	// PreviousBlockID is the id of the block before the webhook block. Required.
	PreviousBlockID string `json:"previous_block_id"`
	// PreviousBlockName is that block's type. Required.
	PreviousBlockName string `json:"previous_block_name"`
	// PreviousBlockNumber is that block's sequence number, >= 0. Required.
	PreviousBlockNumber *int `json:"previous_block_number"`
	// StartedAt is when the webhook block started, RFC 3339. Optional:
	// duration_ms is then measured from created_at.
	StartedAt *string `json:"started_at"`
	// IncludeCSVDownloadLink asks for a signed CSV link. Defaults to false.
	IncludeCSVDownloadLink bool `json:"include_csv_download_link"`
	// ResultsDownloadURL is a download URL for the results, or null.
	ResultsDownloadURL *string `json:"results_download_url"`
	// Results holds the result rows as a JSON array, or null.
	Results json.RawMessage `json:"results"`
}

// DecodeEvent reads one Event from r and builds its delivery request,
// created at now, with a new event id unless the body carries one. It is
// ParseEvent followed by Event.Request. Errors: one wrapping ErrMalformed, a
// *envelope.ValidationError, or the reader's error (e.g. *http.MaxBytesError).
// The request is not fully validated: Publisher.Publish does that.
func DecodeEvent(r io.Reader, now time.Time) (*envelope.Request, error) {
	ev, err := ParseEvent(r)
	if err != nil {
		return nil, err
	}
	return ev.Request(now)
}

// ParseEvent reads all of r and decodes it as one JSON object, an Event,
// strictly (pkg/strictjson: exact member names, no unknown or duplicate
// ones, valid UTF-8, nothing after the object). A read error is returned
// wrapped, as is (not ErrMalformed); values of the wrong type, when they
// are the only problems, are a *envelope.ValidationError naming each
// field; anything else malformed wraps ErrMalformed and the
// *strictjson.Errors listing every problem.
func ParseEvent(r io.Reader) (*Event, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("ingest: read event: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrMalformed)
	}
	var ev Event
	if err := strictjson.Unmarshal(data, &ev); err != nil {
		return nil, parseError(err)
	}
	return &ev, nil
}

// parseError classifies a strictjson error: wrong types of named fields
// only → *envelope.ValidationError; a top level that is not an object →
// ErrMalformed saying so; anything else → ErrMalformed with the list.
func parseError(err error) error {
	var list *strictjson.Errors
	if !errors.As(err, &list) {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	fields := make([]envelope.FieldError, 0, len(list.Problems))
	for _, p := range list.Problems {
		switch {
		case p.WrongType && p.Field == "":
			return fmt.Errorf("%w: the body must be a JSON object", ErrMalformed)
		case p.WrongType && !list.Truncated:
			fields = append(fields, envelope.FieldError{Field: p.Field, Message: p.Message})
		default:
			return fmt.Errorf("%w: %w", ErrMalformed, err)
		}
	}
	return &envelope.ValidationError{Fields: fields}
}

// lenientURLs is used only to list the remaining problems of an event that
// already failed: the Publisher's own policy decides the scheme.
var lenientURLs = envelope.URLPolicy{AllowHTTP: true}

// Request builds the delivery request for e, created at now, with
// envelope.NewJobRequest or NewWorkflowRequest, then sets the client's
// event id if e has one. It reports what only the ingest format can tell
// (a missing row_count, a timeout_seconds <= 0, a bad started_at) as a
// *envelope.ValidationError that also lists every other field problem
// (the URL scheme aside). Otherwise the request is returned unvalidated:
// Publisher.Publish validates it, destination included.
func (e *Event) Request(now time.Time) (*envelope.Request, error) {
	var p []envelope.FieldError
	req, err := e.build(now, &p)
	if err != nil {
		return nil, err
	}
	if e.TimeoutSeconds != nil {
		if *e.TimeoutSeconds <= 0 {
			p = append(p, envelope.FieldError{Field: "timeout_seconds", Message: "must be > 0 and <= 300"})
		} else {
			req.TimeoutSeconds = *e.TimeoutSeconds
		}
	}
	if e.EventID != nil {
		req.EventID = *e.EventID
	}
	if len(p) == 0 {
		return req, nil
	}
	var ve *envelope.ValidationError
	if errors.As(req.Validate(lenientURLs), &ve) {
		p = mergeFields(p, ve.Fields)
	}
	return nil, &envelope.ValidationError{Fields: p}
}

// build makes the request for e's source. An unknown or missing source is
// kept as given so that validation names it; a payload of the other source
// is kept so that validation refuses it.
func (e *Event) build(now time.Time, p *[]envelope.FieldError) (*envelope.Request, error) {
	var run *envelope.WorkflowRun
	if e.Workflow != nil {
		run = e.Workflow.run(p)
	}
	var job *envelope.JobResult
	if e.Job != nil {
		j := *e.Job
		if bytes.Equal(bytes.TrimSpace(j.Result), []byte("null")) {
			j.Result = nil
		}
		job = &j
	}
	if e.Source == envelope.SourceWorkflow {
		req, err := envelope.NewWorkflowRequest(now, e.OrgID, e.URL, deref(run), envelope.Block{Headers: e.Headers})
		if err != nil {
			return nil, err
		}
		req.Workflow, req.Job = run, job
		return req, nil
	}
	req, err := envelope.NewJobRequest(now, e.OrgID, e.URL, deref(job))
	if err != nil {
		return nil, err
	}
	req.Source, req.Job, req.Workflow, req.Headers = e.Source, job, run, e.Headers
	return req, nil
}

// run converts the workflow object, recording missing numbers and a bad
// started_at in p.
func (w *WorkflowEvent) run(p *[]envelope.FieldError) *envelope.WorkflowRun {
	r := &envelope.WorkflowRun{
		WorkflowID:             w.WorkflowID,
		RunID:                  w.RunID,
		PreviousBlockID:        w.PreviousBlockID,
		PreviousBlockName:      w.PreviousBlockName,
		IncludeCSVDownloadLink: w.IncludeCSVDownloadLink,
		ResultsDownloadURL:     w.ResultsDownloadURL,
		Results:                w.Results,
	}
	if w.RowCount == nil {
		*p = append(*p, envelope.FieldError{Field: "workflow.row_count", Message: "required"})
	} else {
		r.RowCount = *w.RowCount
	}
	if w.PreviousBlockNumber == nil {
		*p = append(*p, envelope.FieldError{Field: "workflow.previous_block_number", Message: "required"})
	} else {
		r.PreviousBlockNumber = *w.PreviousBlockNumber
	}
	if w.StartedAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *w.StartedAt)
		if err != nil {
			*p = append(*p, envelope.FieldError{Field: "workflow.started_at", Message: "must be an RFC 3339 time such as 2026-04-22T20:00:00Z"})
		} else {
			r.StartedAt = t.UTC()
		}
	}
	return r
}

// mergeFields appends to p each field error of more whose field p does not
// name yet.
func mergeFields(p, more []envelope.FieldError) []envelope.FieldError {
	named := make(map[string]bool, len(p))
	for _, f := range p {
		named[f.Field] = true
	}
	for _, f := range more {
		if !named[f.Field] {
			p = append(p, f)
		}
	}
	return p
}

// deref returns *v, or the zero value for nil.
func deref[T any](v *T) T {
	if v == nil {
		var zero T
		return zero
	}
	return *v
}
