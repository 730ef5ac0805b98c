package envelope

import (
	"encoding/json"
	"strconv"
	"time"
)

// Fixed values of the workflow run envelope.
const (
	// WorkflowEventType is the "event" field and the Sixtyfour-Event-Type
	// header of every workflow run delivery.
	WorkflowEventType = "outgoing_webhook.completed"
	// WorkflowStatus is the "status" field of every workflow run delivery:
	// failure is signalled by HTTP status, never by this field.
	WorkflowStatus = "success"
	// CompletedAtLayout formats completed_at: RFC 3339, UTC, whole seconds,
	// with a Z ("2026-04-22T20:00:00Z").
	CompletedAtLayout = "2006-01-02T15:04:05Z"
)

// WorkflowRun is the part of a workflow run envelope that a publisher
// provides: everything except the fields that belong to one attempt
// (attempt, completed_at, duration_ms), which the deliverer fills at send
// time, and the fields fixed by the request (event_id, organization_id) or by
// the product (event, status).
type WorkflowRun struct {
	// WorkflowID is the workflow definition id. Required.
	WorkflowID string `json:"workflow_id"`
	// RunID is the id of this run. Required.
	RunID string `json:"run_id"`
	// RowCount is the number of rows in the run's result, >= 0. Required.
	RowCount int `json:"row_count"`
	// PreviousBlockID is the id of the block before the webhook block. Required.
	PreviousBlockID string `json:"previous_block_id"`
	// PreviousBlockName is that block's type, such as "lead_enrichment". Required.
	PreviousBlockName string `json:"previous_block_name"`
	// PreviousBlockNumber is that block's sequence number, >= 0. Required.
	PreviousBlockNumber int `json:"previous_block_number"`
	// StartedAt is when the webhook block started; duration_ms is measured
	// from it to each send. Optional: the zero time means the request's
	// created_at.
	StartedAt time.Time `json:"started_at,omitzero"`
	// IncludeCSVDownloadLink asks for a signed link to the previous block's
	// CSV in results_download_url. Defaults to false.
	IncludeCSVDownloadLink bool `json:"include_csv_download_link,omitempty"`
	// ResultsDownloadURL is a signed download URL for the results, or nil
	// (sent as null). Usually left nil: the deliverer signs a fresh URL for
	// ResultsObject at each attempt.
	ResultsDownloadURL *string `json:"results_download_url"`
	// ResultsObject is the key, in the results Object Store bucket, of the
	// file that results_download_url must point to: the previous block's
	// CSV (include_csv_download_link) or the rows stored because they were
	// too large to inline. The deliverer signs a URL for it at send time.
	// Optional.
	ResultsObject string `json:"results_object,omitempty"`
	// Results holds the inline result rows as a JSON array, or is empty/null
	// (sent as null) when the rows are too large to embed.
	Results json.RawMessage `json:"results"`
}

// WorkflowEnvelope is the body POSTed for a workflow run, in the product's
// field order. Receivers may decode it; the deliverer builds it per attempt.
// Fields, as on the product page: event_id (UUID, the dedupe key, equal to
// the Sixtyfour-Event-Id header), event (always WorkflowEventType), status
// (always WorkflowStatus), workflow_id, run_id, organization_id, row_count,
// previous_block_id, previous_block_name, previous_block_number,
// completed_at (the send time of this attempt, CompletedAtLayout),
// duration_ms (milliseconds from the block's start to this send), attempt
// (1..6), results_download_url (signed URL or null) and results (array or
// null).
type WorkflowEnvelope struct {
	EventID             string          `json:"event_id"`
	Event               string          `json:"event"`
	Status              string          `json:"status"`
	WorkflowID          string          `json:"workflow_id"`
	RunID               string          `json:"run_id"`
	OrganizationID      string          `json:"organization_id"`
	RowCount            int             `json:"row_count"`
	PreviousBlockID     string          `json:"previous_block_id"`
	PreviousBlockName   string          `json:"previous_block_name"`
	PreviousBlockNumber int             `json:"previous_block_number"`
	CompletedAt         string          `json:"completed_at"`
	DurationMS          int64           `json:"duration_ms"`
	Attempt             int             `json:"attempt"`
	ResultsDownloadURL  *string         `json:"results_download_url"`
	Results             json.RawMessage `json:"results"`
}

// check validates the workflow run; prefix is its JSON path. rawChecked
// says Results is known to be valid JSON.
func (w *WorkflowRun) check(p *problems, prefix string, urls URLPolicy, rawChecked bool) {
	checkID(p, prefix+".workflow_id", w.WorkflowID)
	checkID(p, prefix+".run_id", w.RunID)
	checkID(p, prefix+".previous_block_id", w.PreviousBlockID)
	switch {
	case w.PreviousBlockName == "":
		p.add(prefix+".previous_block_name", "required")
	case len(w.PreviousBlockName) > MaxBlockNameLength:
		p.add(prefix+".previous_block_name", "longer than "+strconv.Itoa(MaxBlockNameLength)+" bytes")
	case hasControl(w.PreviousBlockName):
		p.add(prefix+".previous_block_name", "contains a control character")
	}
	if w.RowCount < 0 {
		p.add(prefix+".row_count", "must be >= 0")
	}
	if w.PreviousBlockNumber < 0 {
		p.add(prefix+".previous_block_number", "must be >= 0")
	}
	if w.ResultsDownloadURL != nil {
		if msg := urls.CheckURL(*w.ResultsDownloadURL); msg != "" {
			p.add(prefix+".results_download_url", msg)
		}
	}
	if w.ResultsObject != "" && (len(w.ResultsObject) > MaxObjectKeyLength || hasControl(w.ResultsObject)) {
		p.add(prefix+".results_object", "must be at most "+strconv.Itoa(MaxObjectKeyLength)+" bytes without control characters")
	}
	if !isJSONArrayOrNull(w.Results, rawChecked) {
		p.add(prefix+".results", "must be a JSON array or null")
	}
}

// Envelope returns the workflow run envelope for one attempt. attempt starts
// at 1; sentAt is the send time (completed_at); duration_ms runs from the
// block's start (StartedAt, or created when it is zero) to sentAt and is
// never negative.
func (w *WorkflowRun) Envelope(eventID, orgID string, created time.Time, attempt int, sentAt time.Time) WorkflowEnvelope {
	start := w.StartedAt
	if start.IsZero() {
		start = created
	}
	d := sentAt.Sub(start).Milliseconds()
	if d < 0 {
		d = 0
	}
	results := w.Results
	if len(results) == 0 {
		results = json.RawMessage("null")
	}
	return WorkflowEnvelope{
		EventID:             eventID,
		Event:               WorkflowEventType,
		Status:              WorkflowStatus,
		WorkflowID:          w.WorkflowID,
		RunID:               w.RunID,
		OrganizationID:      orgID,
		RowCount:            w.RowCount,
		PreviousBlockID:     w.PreviousBlockID,
		PreviousBlockName:   w.PreviousBlockName,
		PreviousBlockNumber: w.PreviousBlockNumber,
		CompletedAt:         sentAt.UTC().Format(CompletedAtLayout),
		DurationMS:          d,
		Attempt:             attempt,
		ResultsDownloadURL:  w.ResultsDownloadURL,
		Results:             results,
	}
}

// Body returns the exact bytes of the envelope: compact JSON in the
// product's field order, without HTML escaping.
func (e *WorkflowEnvelope) Body() ([]byte, error) { return marshal(e) }
