package undeliveredapi

import (
	"net/http"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/internal/httpapi"
	"github.com/sixtyfour-oss/webhooks/internal/undelivered"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// page is the list's answer.
type page struct {
	Undelivered []Item `json:"undelivered"`
	// Truncated is true when more events match than the limit.
	Truncated bool `json:"truncated"`
}

// list serves GET Path: the events the query selects within p's scope.
func (a *api) list(w http.ResponseWriter, r *http.Request, p apitoken.Principal) {
	values := r.URL.Query()
	f, fields := ParseFilter(values, "limit")
	pr := problems(fields)
	limit := parseLimit(values, &pr)
	if len(pr) > 0 {
		httpapi.WriteInvalid(w, "invalid query parameters", pr)
		return
	}
	f, ok := ScopeFilter(p, f)
	if !ok {
		notFound(w)
		return
	}
	entries, err := undelivered.List(r.Context(), a.js, a.sc, f, limit+1)
	if err != nil && !noStream(err) {
		a.unreadable(w, p, err)
		return
	}
	entries = visible(p, entries)
	out := page{Truncated: len(entries) > limit}
	out.Undelivered = itemsOf(entries[:min(len(entries), limit)])
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// show serves GET Path/{event_id}: one event with its request, when p
// sees it.
func (a *api) show(w http.ResponseWriter, r *http.Request, p apitoken.Principal, eventID string) {
	values := r.URL.Query()
	var pr problems
	if !envelope.ValidOrgID(eventID) {
		pr.add("event_id", msgID)
	}
	onlyParams(values, &pr, "org_id")
	f := criteria{OrgID: one(values, "org_id", &pr)}.filter(&pr)
	f.EventIDs = []string{eventID}
	if len(pr) > 0 {
		httpapi.WriteInvalid(w, "invalid event id or query parameters", pr)
		return
	}
	f, ok := ScopeFilter(p, f)
	if !ok {
		notFound(w)
		return
	}
	entries, err := undelivered.List(r.Context(), a.js, a.sc, f, 1)
	if err != nil && !noStream(err) {
		a.unreadable(w, p, err)
		return
	}
	entries = visible(p, entries)
	if len(entries) == 0 {
		notFound(w)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, DetailOf(entries[0]))
}

// visible returns the entries p sees. The filter was scoped already; this
// keeps the answer right whatever the stream returned.
func visible(p apitoken.Principal, entries []undelivered.Entry) []undelivered.Entry {
	out := entries[:0:0]
	for _, e := range entries {
		if p.Sees(e.OrgID()) {
			out = append(out, e)
		}
	}
	return out
}
