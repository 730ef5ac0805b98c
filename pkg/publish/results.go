package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/results"
)

// DefaultInlineResultsLimit is the largest serialized (compact JSON) result
// rows inlined in a workflow payload, in bytes: 256 KiB. Larger rows are
// delivered through results_download_url.
const DefaultInlineResultsLimit = 256 << 10

// resultsPlan is what Publish does with a workflow run's results.
type resultsPlan struct {
	// object is the new results_object, or "" to keep the request's.
	object string
	// drop removes the inline rows (they are too large).
	drop bool
	// store holds the compact rows to put under object, when not nil.
	store []byte
}

// planResults applies the results rules to a valid request (see Publish).
// Its errors are *envelope.ValidationError.
func (p *Publisher) planResults(req *envelope.Request) (resultsPlan, error) {
	var plan resultsPlan
	w := req.Workflow
	if req.Source != envelope.SourceWorkflow || w == nil {
		return plan, nil
	}
	if w.IncludeCSVDownloadLink && w.ResultsObject == "" {
		plan.object = results.CSVKey(req.OrgID, w.RunID, w.PreviousBlockID)
	}
	raw := bytes.TrimSpace(w.Results)
	if len(raw) == 0 || string(raw) == "null" {
		return plan, nil
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(raw, &rows); err != nil {
		return plan, invalid("workflow.results", "must be a JSON array or null")
	}
	if len(rows) != w.RowCount {
		return plan, invalid("workflow.row_count", "must equal the number of rows in results ("+strconv.Itoa(len(rows))+")")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return plan, invalid("workflow.results", "must be a JSON array or null")
	}
	if compact.Len() <= p.cfg.InlineResultsLimit {
		return plan, nil
	}
	plan.drop = true
	if w.ResultsObject != "" || plan.object != "" {
		return plan, nil // that object carries the data
	}
	if p.cfg.Results == nil {
		return plan, invalid("workflow.results", "the rows are "+strconv.Itoa(compact.Len())+
			" bytes, over the inline limit of "+strconv.Itoa(p.cfg.InlineResultsLimit)+
			" bytes, and no results store is configured to deliver them by download")
	}
	plan.object = results.RowsKey(req.OrgID, w.RunID)
	plan.store = compact.Bytes()
	return plan, nil
}

// placeResults carries out plan: it stores the rows, when needed, and
// returns the request to publish, a copy when anything changes (req itself
// is never modified, so the caller may retry it). A failed store wraps
// ErrUnavailable: nothing was published.
func (p *Publisher) placeResults(ctx context.Context, req *envelope.Request, plan resultsPlan) (*envelope.Request, error) {
	if plan.object == "" && !plan.drop {
		return req, nil
	}
	if plan.store != nil {
		// The rows may be large: allow the time of every publish try.
		sctx, cancel := context.WithTimeout(ctx, p.cfg.TryTimeout*time.Duration(p.cfg.Tries))
		defer cancel()
		if err := results.Put(sctx, p.cfg.Results, plan.object, bytes.NewReader(plan.store), "application/json"); err != nil {
			return nil, fmt.Errorf("%w: store the results of event %s: %w", ErrUnavailable, req.EventID, err)
		}
	}
	out := *req
	run := *req.Workflow
	out.Workflow = &run
	if plan.object != "" {
		run.ResultsObject = plan.object
	}
	if plan.drop {
		run.Results = nil
	}
	return &out, nil
}

// invalid is a validation error on one field.
func invalid(field, msg string) error {
	return &envelope.ValidationError{Fields: []envelope.FieldError{{Field: field, Message: msg}}}
}
