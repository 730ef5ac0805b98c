package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/internal/undelivered"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// listLimit is the most undelivered events one page lists (oldest first).
const listLimit = 200

// filterParams are the undelivered filter's inputs.
var filterParams = []string{"org", "source", "event_type", "host", "since", "until"}

// filterForm is the undelivered filter as it is shown again.
type filterForm struct {
	Operator  bool
	Org       string
	Sources   []option
	EventType string
	Host      string
	Since     string
	Until     string
}

// hidden is one hidden input carrying a filter into a form.
type hidden struct{ Name, Value string }

// entryRow is one undelivered event in a table.
type entryRow struct {
	EventID, OrgID, Source, EventType, Host string
	StoredAt                                time.Time
	Attempts, Status                        int
	Reason                                  string
	Replayed                                bool
	CanReplay                               bool
}

// undeliveredData is the undelivered page.
type undeliveredData struct {
	Form    filterForm
	Errors  formErrors
	Rows    []entryRow
	ShowOrg bool
	// More says the list stopped at Limit; Next is the path of the
	// following page (the same filters, since just after the last row).
	More  bool
	Limit int
	Next  string
	// Hidden carries the filter into the replay and purge forms.
	Hidden              []hidden
	CanReplay, CanPurge bool
	// RowActions offers a replay on each row.
	RowActions bool
}

// selection is a parsed and scoped undelivered filter.
type selection struct {
	filter undelivered.Filter
	form   filterForm
	hidden []hidden
}

// parseSelection reads the filter from vals and scopes it to p: ok is
// false when p names an organization it does not see (answer 404).
func parseSelection(p apitoken.Principal, vals map[string]string, fe *formErrors) (sel selection, ok bool) {
	org, ok := p.OrgFilter(vals["org"])
	if !ok {
		return sel, false
	}
	if org != "" && !envelope.ValidOrgID(org) {
		fe.add("org", "must match [A-Za-z0-9_-]{1,64}")
	}
	f := undelivered.Filter{OrgID: org, Source: vals["source"], EventType: vals["event_type"], Host: vals["host"]}
	if f.Source != "" && f.Source != string(envelope.SourceJob) && f.Source != string(envelope.SourceWorkflow) {
		fe.add("source", "must be job or workflow")
	}
	if len(f.EventType) > envelope.MaxIDLength {
		fe.add("event_type", "is too long")
	}
	if len(f.Host) > 253 {
		fe.add("host", "is longer than 253 bytes")
	}
	f.Since = parseTime(vals, "since", fe)
	f.Until = parseTime(vals, "until", fe)
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		fe.add("until", "must not be before since")
	}
	sel.filter = f
	sel.form = filterForm{Operator: p.Operator(), Org: org, Sources: options(f.Source, "job", "workflow"),
		EventType: f.EventType, Host: f.Host, Since: timeEcho(f.Since), Until: timeEcho(f.Until)}
	for _, name := range filterParams {
		if vals[name] != "" && (name != "org" || p.Operator()) {
			sel.hidden = append(sel.hidden, hidden{Name: name, Value: vals[name]})
		}
	}
	return sel, true
}

// undeliveredList lists what the filter selects, oldest first, with the
// failure reason.
func (c *console) undeliveredList(w http.ResponseWriter, r *http.Request, v *viewer) {
	var fe formErrors
	vals := readParams(r.URL.Query(), filterParams, &fe)
	sel, ok := parseSelection(v.P, vals, &fe)
	if !ok {
		c.notFound(w, r, v)
		return
	}
	data := undeliveredData{Form: sel.form, ShowOrg: v.P.Operator() && sel.filter.OrgID == "", Limit: listLimit,
		Hidden: sel.hidden, CanReplay: v.P.MayReplay(sel.filter.OrgID), CanPurge: v.P.MayManage(), RowActions: true}
	if !fe.Empty() {
		data.Errors = fe
		c.render(w, r, v, http.StatusBadRequest, "undelivered", "Undelivered", data)
		return
	}
	entries, err := undelivered.List(r.Context(), c.cfg.JS, c.cfg.Streams, sel.filter, listLimit+1)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
	case errors.Is(err, undelivered.ErrInvalidFilter):
		data.Errors.other(strings.TrimPrefix(err.Error(), "undelivered: invalid filter: "))
		c.render(w, r, v, http.StatusBadRequest, "undelivered", "Undelivered", data)
		return
	case err != nil:
		c.unavailable(w, r, v, "undelivered stream", err)
		return
	}
	if len(entries) > listLimit {
		entries, data.More = entries[:listLimit], true
		data.Next = nextPage(vals, entries[len(entries)-1].StoredAt)
	}
	data.Rows = rowsOf(v.P, entries)
	c.render(w, r, v, http.StatusOK, "undelivered", "Undelivered", data)
}

// nextPage is the path of the page after one whose last row was
// dead-lettered at last: the list is oldest first, so the next page starts
// just after it (stream times are in nanoseconds; two events stored in the
// same nanosecond across a page boundary would both be on one page only in
// the rare case that the first page ends between them).
func nextPage(vals map[string]string, last time.Time) string {
	q := url.Values{}
	for _, name := range filterParams {
		if vals[name] != "" {
			q.Set(name, vals[name])
		}
	}
	q.Set("since", last.Add(time.Nanosecond).UTC().Format(time.RFC3339Nano))
	return "/undelivered?" + q.Encode()
}

// rowsOf turns entries into table rows for p.
func rowsOf(p apitoken.Principal, entries []undelivered.Entry) []entryRow {
	rows := make([]entryRow, 0, len(entries))
	for _, e := range entries {
		row := entryRow{EventID: e.EventID(), OrgID: e.OrgID(), Source: e.Source(), StoredAt: e.StoredAt,
			Replayed: e.Replayed, CanReplay: p.MayReplay(e.OrgID())}
		if o := e.Failure; o != nil {
			row.EventType, row.Host, row.Attempts, row.Status, row.Reason = o.EventType, o.Host, o.Attempts, o.StatusCode, o.Error
		}
		rows = append(rows, row)
	}
	return rows
}

// undeliveredShowData is the page of one undelivered event.
type undeliveredShowData struct {
	Row      entryRow
	Failure  *envelope.Outcome
	Request  string
	CanPurge bool
}

// undeliveredShow shows one undelivered event: its failure record and the
// request as published (which holds the destination URL).
func (c *console) undeliveredShow(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("event_id")
	org, ok := v.P.OrgFilter("")
	if !ok || !envelope.ValidOrgID(id) || len(r.URL.Query()) > 0 {
		c.notFound(w, r, v)
		return
	}
	entries, err := undelivered.List(r.Context(), c.cfg.JS, c.cfg.Streams, undelivered.Filter{OrgID: org, EventIDs: []string{id}}, 1)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
	case err != nil:
		c.unavailable(w, r, v, "undelivered stream", err)
		return
	}
	if len(entries) == 0 || !v.P.Sees(entries[0].OrgID()) {
		c.notFound(w, r, v)
		return
	}
	e := entries[0]
	data := undeliveredShowData{Row: rowsOf(v.P, entries)[0], Failure: e.Failure, Request: prettyJSON(string(e.Request)),
		CanPurge: v.P.MayManage()}
	c.render(w, r, v, http.StatusOK, "undelivered_show", "Undelivered "+id, data)
}
