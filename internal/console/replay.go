package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/undelivered"
	"github.com/sixtyfour-oss/webhooks/internal/undeliveredapi"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// maxJobProblems bounds the per-event errors a job page lists.
const maxJobProblems = 20

// reviewData is the confirmation page of a replay or a purge.
type reviewData struct {
	// Action is "replay" or "purge".
	Action string
	What   string
	Count  int
	// Rows are a sample of the selection.
	Rows    []entryRow
	ShowOrg bool
	// RowActions is false: the review offers its one action below the
	// table.
	RowActions bool
	Hidden     []hidden
	ConfirmURL string
}

// postSelection reads the selection of a replay or purge form (the
// filter, or one event_id, and the extra fields); it answers the request
// itself and returns ok false when the form is bad or names an
// organization the principal does not see.
func (c *console) postSelection(w http.ResponseWriter, r *http.Request, v *viewer, extra ...string) (selection, map[string]string, bool) {
	if err := r.ParseForm(); err != nil {
		c.errorPage(w, r, v, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return selection{}, nil, false
	}
	var fe formErrors
	vals := readParams(r.PostForm, append(append([]string{"event_id"}, filterParams...), extra...), &fe)
	sel, ok := parseSelection(v.P, vals, &fe)
	if !ok {
		c.notFound(w, r, v)
		return selection{}, nil, false
	}
	if id := vals["event_id"]; id != "" {
		if !envelope.ValidOrgID(id) {
			c.notFound(w, r, v)
			return selection{}, nil, false
		}
		sel.filter.EventIDs = []string{id}
		sel.hidden = append(sel.hidden, hidden{Name: "event_id", Value: id})
	}
	if !fe.Empty() {
		var msgs []string
		for field, msg := range fe.Fields {
			msgs = append(msgs, field+" "+msg)
		}
		slices.Sort(msgs)
		c.errorPage(w, r, v, http.StatusBadRequest, "Bad request", strings.Join(append(msgs, fe.Other...), "; "))
		return selection{}, nil, false
	}
	return sel, vals, true
}

// describe says in words what a selection selects.
func describe(f undelivered.Filter) string {
	if len(f.EventIDs) == 1 {
		return "event " + f.EventIDs[0]
	}
	var parts []string
	add := func(label, v string) {
		if v != "" {
			parts = append(parts, label+" "+v)
		}
	}
	add("organization", f.OrgID)
	add("source", f.Source)
	add("event type", f.EventType)
	add("host", f.Host)
	if !f.Since.IsZero() {
		add("dead-lettered since", localInput(f.Since)+" UTC")
	}
	if !f.Until.IsZero() {
		add("dead-lettered until", localInput(f.Until)+" UTC")
	}
	if len(parts) == 0 {
		return "every undelivered event"
	}
	return "the undelivered events of " + strings.Join(parts, ", ")
}

// replayReview counts what a replay would publish (a dry run) and asks
// for confirmation.
func (c *console) replayReview(w http.ResponseWriter, r *http.Request, v *viewer) {
	sel, _, ok := c.postSelection(w, r, v)
	if !ok {
		return
	}
	if !v.P.MayReplay(sel.filter.OrgID) {
		c.forbidden(w, r, v, "replay these events")
		return
	}
	sum, err := undelivered.Replay(r.Context(), c.cfg.JS, c.cfg.Streams, sel.filter, undelivered.ReplayOptions{DryRun: true})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		c.unavailable(w, r, v, "undelivered stream", err)
		return
	}
	c.render(w, r, v, http.StatusOK, "review", "Replay", reviewData{Action: "replay", What: describe(sel.filter),
		Count: sum.Matched, Rows: rowsOf(v.P, sum.Sample), ShowOrg: v.P.Operator(), Hidden: sel.hidden,
		ConfirmURL: "/undelivered/replay/confirm"})
}

// confirmedCount reads the count the review page showed.
func confirmedCount(vals map[string]string) (int, bool) {
	n, err := strconv.Atoi(vals["count"])
	return n, err == nil && n > 0
}

// replayConfirm starts the replay as a background job and sends the
// browser to its progress page. If more events match than were reviewed,
// the job replays nothing and says so.
func (c *console) replayConfirm(w http.ResponseWriter, r *http.Request, v *viewer) {
	sel, vals, ok := c.postSelection(w, r, v, "count")
	if !ok {
		return
	}
	if !v.P.MayReplay(sel.filter.OrgID) {
		c.forbidden(w, r, v, "replay these events")
		return
	}
	confirmed, ok := confirmedCount(vals)
	if !ok {
		c.errorPage(w, r, v, http.StatusBadRequest, "Bad request", "Review the replay first.")
		return
	}
	what, f, who := describe(sel.filter), sel.filter, v.P.Name
	c.startJob(w, r, v, "replay", what, confirmed, func(ctx context.Context, j *job) (string, []string, error) {
		matched := 0
		sum, err := undelivered.Replay(ctx, c.cfg.JS, c.cfg.Streams, f, undelivered.ReplayOptions{
			Confirm:  func(n int, _ []undelivered.Entry) bool { matched = n; return n <= confirmed },
			Progress: j.progress, History: undeliveredapi.Guard(v.P, c.cfg.History), // every event checked again
		})
		c.log.Info().Str("principal", who).Str("selection", what).Int("replayed", sum.Replayed).Int("skipped", sum.Skipped).
			Int("failed", sum.Failed).Err(err).Msg("console: replay finished")
		if errors.Is(err, undelivered.ErrNotConfirmed) {
			return fmt.Sprintf("Nothing was replayed: %d events match now, %d were reviewed. Review the selection again.", matched, confirmed), nil, err
		}
		var problems []string
		for _, e := range sum.Errors[:min(len(sum.Errors), maxJobProblems)] {
			problems = append(problems, e.Error())
		}
		return fmt.Sprintf("Replayed %d, skipped %d (already replayed or gone), failed %d, of %d selected.",
			sum.Replayed, sum.Skipped, sum.Failed, sum.Matched), problems, err
	})
}

// purgeReview counts what a purge would delete and asks for confirmation.
func (c *console) purgeReview(w http.ResponseWriter, r *http.Request, v *viewer) {
	sel, _, ok := c.postSelection(w, r, v)
	if !ok {
		return
	}
	if !v.P.MayManage() {
		c.forbidden(w, r, v, "purge undelivered events")
		return
	}
	var count int
	var sample []undelivered.Entry
	_, err := undelivered.Purge(r.Context(), c.cfg.JS, c.cfg.Streams, sel.filter, func(n int, s []undelivered.Entry) bool {
		count, sample = n, s
		return false // only counting
	})
	if err != nil && !errors.Is(err, undelivered.ErrNotConfirmed) && !errors.Is(err, jetstream.ErrStreamNotFound) {
		c.unavailable(w, r, v, "undelivered stream", err)
		return
	}
	c.render(w, r, v, http.StatusOK, "review", "Purge", reviewData{Action: "purge", What: describe(sel.filter),
		Count: count, Rows: rowsOf(v.P, sample), ShowOrg: v.P.Operator(), Hidden: sel.hidden,
		ConfirmURL: "/undelivered/purge/confirm"})
}

// purgeConfirm starts the purge as a background job.
func (c *console) purgeConfirm(w http.ResponseWriter, r *http.Request, v *viewer) {
	sel, vals, ok := c.postSelection(w, r, v, "count")
	if !ok {
		return
	}
	if !v.P.MayManage() {
		c.forbidden(w, r, v, "purge undelivered events")
		return
	}
	confirmed, ok := confirmedCount(vals)
	if !ok {
		c.errorPage(w, r, v, http.StatusBadRequest, "Bad request", "Review the purge first.")
		return
	}
	what, f, who := describe(sel.filter), sel.filter, v.P.Name
	c.startJob(w, r, v, "purge", what, confirmed, func(ctx context.Context, j *job) (string, []string, error) {
		matched := 0
		n, err := undelivered.Purge(ctx, c.cfg.JS, c.cfg.Streams, f, func(count int, _ []undelivered.Entry) bool {
			matched = count
			return count <= confirmed
		})
		j.progress(n, max(matched, n))
		c.log.Warn().Str("principal", who).Str("selection", what).Int("purged", n).Err(err).Msg("console: purge finished")
		if errors.Is(err, undelivered.ErrNotConfirmed) {
			return fmt.Sprintf("Nothing was purged: %d events match now, %d were reviewed. Review the selection again.", matched, confirmed), nil, err
		}
		return fmt.Sprintf("Purged %d of %d selected.", n, matched), nil, err
	})
}

// startJob starts run and redirects to its page.
func (c *console) startJob(w http.ResponseWriter, r *http.Request, v *viewer, kind, what string, total int, run jobRun) {
	j, err := c.jobs.start(ownerOf(v.P), kind, what, total, run)
	switch {
	case errors.Is(err, errTooManyJobs):
		c.errorPage(w, r, v, http.StatusTooManyRequests, "Busy", fmt.Sprintf("You already run %d jobs; wait for one to finish.", MaxRunningJobs))
		return
	case err != nil:
		c.errorPage(w, r, v, http.StatusInternalServerError, "Error", "The job could not be started.")
		return
	}
	c.log.Info().Str("principal", v.P.Name).Str("job", j.id).Str("kind", kind).Str("selection", what).Int("reviewed", total).Msg("console: job started")
	http.Redirect(w, r, "/jobs/"+j.id, http.StatusSeeOther)
}

// jobPage shows a job's progress; another principal's job is 404.
func (c *console) jobPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	j := c.jobs.get(r.PathValue("id"), ownerOf(v.P))
	if j == nil {
		c.notFound(w, r, v)
		return
	}
	jv := j.view()
	c.renderView(w, r, v, http.StatusOK, "job", view{Title: "Job " + jv.Kind, Refresh: jv.Running, Data: jv})
}

// jobCancel stops a running job; what it did so far stays done.
func (c *console) jobCancel(w http.ResponseWriter, r *http.Request, v *viewer) {
	j := c.jobs.get(r.PathValue("id"), ownerOf(v.P))
	if j == nil {
		c.notFound(w, r, v)
		return
	}
	j.cancel()
	c.log.Info().Str("principal", v.P.Name).Str("job", j.id).Msg("console: job cancelled")
	http.Redirect(w, r, "/jobs/"+j.id, http.StatusSeeOther)
}
