package console

import (
	"errors"
	"maps"
	"net/http"
	"strconv"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// searchParams are the delivery-log search's inputs.
var searchParams = []string{"org", "from", "to", "state", "source", "event_type", "host", "status_class", "limit", "cursor"}

// searchForm is the search form as it is shown again.
type searchForm struct {
	// Operator shows the org input; otherwise OrgID is fixed.
	Operator    bool
	Org         string
	From, To    string
	States      []option
	Sources     []option
	EventType   string
	Host        string
	StatusClass []option
	Limit       string
}

// deliveriesData is the delivery-log page.
type deliveriesData struct {
	Form   searchForm
	Errors formErrors
	Rows   []logstore.Delivery
	// ShowOrg adds the organization column (operators searching all).
	ShowOrg bool
	// Next is the URL of the following page, First of the first one when
	// this is a later page; "" when there is none.
	Next, First string
	// Searched is set once the log was searched.
	Searched bool
}

// deliveries searches the delivery log. An organization session searches
// its organization only; naming another is 404, as for an event.
func (c *console) deliveries(w http.ResponseWriter, r *http.Request, v *viewer) {
	var fe formErrors
	vals := readParams(r.URL.Query(), searchParams, &fe)
	org, ok := v.P.OrgFilter(vals["org"])
	if !ok {
		c.notFound(w, r, v)
		return
	}
	q := logstore.Query{OrgID: org, State: vals["state"], Source: vals["source"], EventType: vals["event_type"],
		Host: vals["host"], StatusClass: vals["status_class"], Cursor: vals["cursor"]}
	q.From = parseTime(vals, "from", &fe)
	q.To = parseTime(vals, "to", &fe)
	if s := vals["limit"]; s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > logstore.MaxLimit {
			fe.add("limit", "must be a whole number between 1 and "+strconv.Itoa(logstore.MaxLimit))
		} else {
			q.Limit = n
		}
	}
	if _, err := q.Check(); err != nil {
		addQueryErrors(&fe, err)
	}
	data := deliveriesData{ShowOrg: v.P.Operator() && org == "", Form: searchForm{
		Operator: v.P.Operator(), Org: org, From: timeEcho(q.From), To: timeEcho(q.To),
		States:    options(q.State, envelope.StateRetrying, envelope.StateDelivered, envelope.StateUndelivered),
		Sources:   options(q.Source, string(envelope.SourceJob), string(envelope.SourceWorkflow)),
		EventType: q.EventType, Host: q.Host,
		StatusClass: options(q.StatusClass, "2xx", "3xx", "4xx", "5xx", "none"), Limit: vals["limit"],
	}}
	if !fe.Empty() {
		data.Errors = fe
		c.render(w, r, v, http.StatusBadRequest, "deliveries", "Deliveries", data)
		return
	}
	page, err := c.cfg.Log.Search(r.Context(), q)
	var qe *logstore.QueryError
	switch {
	case errors.As(err, &qe):
		addQueryErrors(&data.Errors, err)
		c.render(w, r, v, http.StatusBadRequest, "deliveries", "Deliveries", data)
		return
	case err != nil:
		c.unavailable(w, r, v, "delivery log", err)
		return
	}
	data.Rows, data.Searched = page.Deliveries, true
	params := query("org", vals["org"], "from", vals["from"], "to", vals["to"], "state", q.State, "source", q.Source,
		"event_type", q.EventType, "host", q.Host, "status_class", q.StatusClass, "limit", vals["limit"])
	if !v.P.Operator() {
		params.Del("org")
	}
	if page.Next != "" {
		next := maps.Clone(params)
		next.Set("cursor", page.Next)
		data.Next = withQuery("/deliveries", next)
	}
	if q.Cursor != "" {
		data.First = withQuery("/deliveries", params)
	}
	c.render(w, r, v, http.StatusOK, "deliveries", "Deliveries", data)
}

// addQueryErrors shows a *logstore.QueryError's problems next to the
// inputs (the store says org_id where the form says org).
func addQueryErrors(fe *formErrors, err error) {
	var qe *logstore.QueryError
	if !errors.As(err, &qe) {
		fe.other(err.Error())
		return
	}
	for _, f := range qe.Fields {
		field := f.Field
		if field == "org_id" {
			field = "org"
		}
		if field == "cursor" {
			fe.other("the page link is not valid for this search: " + f.Message)
			continue
		}
		fe.add(field, f.Message)
	}
}
