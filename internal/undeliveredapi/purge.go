package undeliveredapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/internal/httpapi"
	"github.com/sixtyfour-oss/webhooks/internal/undelivered"
)

// PurgeResult is the answer to a purge.
type PurgeResult struct {
	// Matched is how many undelivered events the selection held.
	Matched int `json:"matched"`
	// Purged is how many were deleted; events gone meanwhile (replayed,
	// purged, expired) are not counted. 0 on a dry run.
	Purged int `json:"purged"`
	// Sample holds the first undelivered.SampleSize selected events on a
	// dry run; [] otherwise.
	Sample []Item `json:"sample"`
	// DryRun is true when nothing was deleted.
	DryRun bool `json:"dry_run"`
}

// purge serves POST Path/purge: operators only.
func (a *api) purge(w http.ResponseWriter, r *http.Request, p apitoken.Principal) {
	var req purgeRequest
	if !readBody(w, r, &req) {
		return
	}
	var pr problems
	f := req.criteria().filter(&pr)
	if len(pr) > 0 {
		invalid(w, pr)
		return
	}
	f, ok := ScopeFilter(p, f)
	if !ok {
		notFound(w)
		return
	}
	if !p.MayManage() {
		forbidden(w, "only operator tokens may purge undelivered events")
		return
	}
	if selectsEverything(f) && !req.All {
		invalid(w, problems{{Field: "all", Message: msgAll}})
		return
	}
	out := PurgeResult{Sample: []Item{}, DryRun: req.DryRun}
	n, err := undelivered.Purge(r.Context(), a.js, a.sc, f, func(count int, sample []undelivered.Entry) bool {
		out.Matched = count
		if req.DryRun {
			out.Sample = itemsOf(visible(p, sample))
		}
		return !req.DryRun
	})
	switch {
	case noStream(err):
		n, err = 0, nil
	case req.DryRun && errors.Is(err, undelivered.ErrNotConfirmed):
		err = nil
	}
	out.Purged = n
	a.logPurge(p, f, out, err)
	if err != nil {
		httpapi.WriteJSON(w, http.StatusServiceUnavailable, stopped[PurgeResult]{
			Error: httpapi.Error{Error: "unavailable", Message: "the purge stopped after deleting " + strconv.Itoa(n) +
				" of " + strconv.Itoa(out.Matched) + " events; run it again to purge the rest"},
			Summary: out,
		})
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// logPurge writes the purge's line: who, what, and the counts.
func (a *api) logPurge(p apitoken.Principal, f undelivered.Filter, out PurgeResult, err error) {
	ev := a.log.Info()
	if err != nil {
		ev = a.log.Error().Err(err)
	}
	ev.Str("principal", p.Name).Str("token_id", p.TokenID).Str("scope", string(p.Scope)).
		Str("org_id", orAll(f.OrgID)).Int("event_ids", len(f.EventIDs)).Bool("dry_run", out.DryRun).
		Int("matched", out.Matched).Int("purged", out.Purged).Msg("undelivered purge")
}
