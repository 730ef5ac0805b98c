package undeliveredapi

import (
	"bytes"
	"io"
	"net/http"
	"strconv"

	"github.com/sixtyfour-oss/webhooks/internal/httpapi"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/strictjson"
)

// msgAll is the problem of an empty selection without "all": true.
const msgAll = "must be true to select every undelivered event of every organization; or give a filter"

// replayRequest is the body of POST Path/replay. Every member is optional.
type replayRequest struct {
	OrgID     string   `json:"org_id"`
	Source    string   `json:"source"`
	EventType string   `json:"event_type"`
	Host      string   `json:"host"`
	Since     string   `json:"since"`
	Until     string   `json:"until"`
	EventIDs  []string `json:"event_ids"`
	// All confirms a selection of every event of every organization.
	All    bool `json:"all"`
	DryRun bool `json:"dry_run"`
	// RatePerSecond bounds publishes per second; 0 is unlimited.
	RatePerSecond float64 `json:"rate_per_second"`
}

func (q replayRequest) criteria() criteria {
	return criteria{OrgID: q.OrgID, Source: q.Source, EventType: q.EventType, Host: q.Host,
		Since: q.Since, Until: q.Until, EventIDs: q.EventIDs}
}

// purgeRequest is the body of POST Path/purge: replay's without a rate.
type purgeRequest struct {
	OrgID     string   `json:"org_id"`
	Source    string   `json:"source"`
	EventType string   `json:"event_type"`
	Host      string   `json:"host"`
	Since     string   `json:"since"`
	Until     string   `json:"until"`
	EventIDs  []string `json:"event_ids"`
	All       bool     `json:"all"`
	DryRun    bool     `json:"dry_run"`
}

func (q purgeRequest) criteria() criteria {
	return criteria{OrgID: q.OrgID, Source: q.Source, EventType: q.EventType, Host: q.Host,
		Since: q.Since, Until: q.Until, EventIDs: q.EventIDs}
}

// oneRequest is the optional body of POST Path/{event_id}/replay.
type oneRequest struct {
	DryRun bool `json:"dry_run"`
}

// readBody reads r's body into v strictly (pkg/strictjson), after
// refusing any query parameter: the POST endpoints take their input in
// the body only. An empty body leaves v as it is. When the request cannot
// be used it answers it (400 naming each problem, 413 for a body over
// MaxBodyBytes) and returns false.
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	var pr problems
	onlyParams(r.URL.Query(), &pr)
	if len(pr) > 0 {
		httpapi.WriteInvalid(w, "this endpoint takes its input in a JSON body, not in the query", pr)
		return false
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		httpapi.WriteInvalid(w, "the body could not be read: "+err.Error(), nil)
		return false
	}
	if len(data) > MaxBodyBytes {
		httpapi.WriteError(w, http.StatusRequestEntityTooLarge, "too_large",
			"the body must be at most "+strconv.Itoa(MaxBodyBytes)+" bytes")
		return false
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return true
	}
	if err := strictjson.Unmarshal(data, v); err != nil {
		httpapi.WriteInvalid(w, "the body must be a JSON object of the documented members: "+err.Error(), httpapi.JSONFields(err))
		return false
	}
	return true
}

// checkRate adds a problem when perSecond is not a rate Replay accepts.
func checkRate(perSecond float64, p *problems) {
	if perSecond < 0 {
		p.add("rate_per_second", "must be 0 (unlimited) or more")
	}
}

// invalid answers 400 listing p.
func invalid(w http.ResponseWriter, p []envelope.FieldError) {
	httpapi.WriteInvalid(w, "invalid request", p)
}
