package undeliveredapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/internal/httpapi"
	"github.com/sixtyfour-oss/webhooks/internal/undelivered"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// errNotPermitted is an event's failure when the principal may not replay
// its organization (see guard).
var errNotPermitted = errors.New("undeliveredapi: this token may not replay this organization's events")

// Summary is the answer to a replay: what undelivered.Replay did.
type Summary struct {
	// Matched is how many undelivered events the selection held.
	Matched int `json:"matched"`
	// Replayed is how many were published to WEBHOOKS and left the
	// undelivered stream.
	Replayed int `json:"replayed"`
	// Skipped is how many were already replayed (an earlier, interrupted
	// run) or gone meanwhile: nothing was published for them.
	Skipped int `json:"skipped"`
	// Failed is how many could not be replayed; Errors says why.
	Failed int `json:"failed"`
	// Errors holds one entry per failed event; [] when none failed.
	Errors []EventError `json:"errors"`
	// Sample holds the first undelivered.SampleSize selected events on a
	// dry run; [] otherwise.
	Sample []Item `json:"sample"`
	// DryRun is true when nothing was changed.
	DryRun bool `json:"dry_run"`
	// DurationMS is how long the replay ran, in milliseconds.
	DurationMS int64 `json:"duration_ms"`
}

// EventError is why one event could not be replayed.
type EventError struct {
	EventID string `json:"event_id"`
	Error   string `json:"error"`
}

// stopped is the 503 answer to a replay or purge that stopped part way:
// the error and what was done until then.
type stopped[T any] struct {
	httpapi.Error
	Summary T `json:"summary"`
}

// historyFunc is the type of Options.History and ReplayOptions.History.
type historyFunc = func(ctx context.Context, orgID, eventID string) (*envelope.Outcome, error)

// replayMany serves POST Path/replay.
func (a *api) replayMany(w http.ResponseWriter, r *http.Request, p apitoken.Principal) {
	var req replayRequest
	if !readBody(w, r, &req) {
		return
	}
	var pr problems
	f := req.criteria().filter(&pr)
	checkRate(req.RatePerSecond, &pr)
	if len(pr) > 0 {
		invalid(w, pr)
		return
	}
	f, ok := ScopeFilter(p, f)
	if !ok {
		notFound(w)
		return
	}
	if selectsEverything(f) && !req.All {
		invalid(w, problems{{Field: "all", Message: msgAll}})
		return
	}
	a.replay(w, r, p, f, req.DryRun, req.RatePerSecond, false)
}

// replayOne serves POST Path/{event_id}/replay.
func (a *api) replayOne(w http.ResponseWriter, r *http.Request, p apitoken.Principal, eventID string) {
	var req oneRequest
	if !readBody(w, r, &req) {
		return
	}
	if !envelope.ValidOrgID(eventID) {
		invalid(w, problems{{Field: "event_id", Message: msgID}})
		return
	}
	f, ok := ScopeFilter(p, undelivered.Filter{EventIDs: []string{eventID}})
	if !ok {
		notFound(w)
		return
	}
	a.replay(w, r, p, f, req.DryRun, 0, true)
}

// replay runs the replay of f (already scoped to p) and answers with its
// Summary; single is true for one event, which answers 404 when the event
// is not undelivered (or not p's to see).
func (a *api) replay(w http.ResponseWriter, r *http.Request, p apitoken.Principal, f undelivered.Filter, dryRun bool, perSecond float64, single bool) {
	if f.OrgID != "" && !p.MayReplay(f.OrgID) {
		if single && !a.found(r.Context(), f) {
			notFound(w) // a refusal must not confirm that the event exists
			return
		}
		forbidden(w, "this token may not replay undelivered events")
		return
	}
	opts := undelivered.ReplayOptions{DryRun: dryRun, RatePerSecond: perSecond, History: Guard(p, a.history)}
	sum, err := undelivered.Replay(r.Context(), a.js, a.sc, f, opts)
	if noStream(err) {
		sum, err = undelivered.ReplaySummary{}, nil
	}
	out := summaryOf(p, sum, dryRun)
	a.logReplay(p, f, out, err)
	switch {
	case errors.Is(err, undelivered.ErrInvalidFilter):
		httpapi.WriteInvalid(w, err.Error(), nil) // not reached: the filter was checked
	case err != nil:
		httpapi.WriteJSON(w, http.StatusServiceUnavailable, stopped[Summary]{
			Error: httpapi.Error{Error: "unavailable", Message: "the replay stopped after " + strconv.Itoa(out.Replayed+out.Skipped+out.Failed) +
				" of " + strconv.Itoa(out.Matched) + " events; run it again to replay the rest (no event is replayed twice)"},
			Summary: out,
		})
	case single && sum.Matched == 0:
		notFound(w)
	default:
		httpapi.WriteJSON(w, http.StatusOK, out)
	}
}

// found reports whether f selects an undelivered event (a dry run); a
// lookup that fails answers true, so that the refusal is told as such.
func (a *api) found(ctx context.Context, f undelivered.Filter) bool {
	sum, err := undelivered.Replay(ctx, a.js, a.sc, f, undelivered.ReplayOptions{DryRun: true})
	return (err != nil && !noStream(err)) || sum.Matched > 0
}

// Guard returns the History a replay by p is given (the HTTP API's and
// the console's). Replay calls it for each event just before publishing
// it, with the event's organization: Guard refuses an event p may not
// replay (it fails, nothing is published), so MayReplay holds for every
// event replayed whatever the filter selected, and otherwise asks history
// (nil: no delivery log).
func Guard(p apitoken.Principal, history historyFunc) historyFunc {
	return func(ctx context.Context, orgID, eventID string) (*envelope.Outcome, error) {
		if !p.MayReplay(orgID) {
			return nil, errNotPermitted
		}
		if history == nil {
			return nil, nil
		}
		return history(ctx, orgID, eventID)
	}
}

// summaryOf returns the Summary of sum, its sample limited to what p sees.
func summaryOf(p apitoken.Principal, sum undelivered.ReplaySummary, dryRun bool) Summary {
	out := Summary{Matched: sum.Matched, Replayed: sum.Replayed, Skipped: sum.Skipped, Failed: sum.Failed,
		Errors: make([]EventError, 0, len(sum.Errors)), Sample: itemsOf(visible(p, sum.Sample)),
		DryRun: dryRun, DurationMS: sum.Duration.Milliseconds()}
	for _, e := range sum.Errors {
		out.Errors = append(out.Errors, EventError{EventID: e.EventID, Error: e.Err.Error()})
	}
	return out
}

// logReplay writes the replay's line: who, what, and the counts.
func (a *api) logReplay(p apitoken.Principal, f undelivered.Filter, out Summary, err error) {
	ev := a.log.Info()
	if err != nil {
		ev = a.log.Error().Err(err)
	}
	ev.Str("principal", p.Name).Str("token_id", p.TokenID).Str("scope", string(p.Scope)).
		Str("org_id", orAll(f.OrgID)).Int("event_ids", len(f.EventIDs)).Bool("dry_run", out.DryRun).
		Int("matched", out.Matched).Int("replayed", out.Replayed).Int("skipped", out.Skipped).
		Int("failed", out.Failed).Int64("duration_ms", out.DurationMS).Msg("undelivered replay")
}

// orAll names a filter's organization in the log: "*" for every one.
func orAll(org string) string {
	if org == "" {
		return "*"
	}
	return org
}
