// Package deliveries serves the delivery log over HTTP:
//
//	GET /v1/deliveries?org_id=&from=&to=&state=&source=&event_type=&host=&status_class=&limit=&cursor=
//	  200 {"deliveries": [Delivery, ...], "next_cursor": "..."}     newest first
//	  400 {"error": "invalid_request", "message": "...", "fields": [{"field", "message"}, ...]}
//	GET /v1/deliveries/{event_id}[?org_id=]
//	  200 Timeline: every round of the event with its attempts
//	  404 {"error": "not_found", ...}
//	503 {"error": "unavailable", ...} when the log cannot be read; retry
//
// from and to are RFC 3339 times bounding queued_at to [from, to). Mount
// it behind apitoken's Authenticator.Require: it reads the request's
// Principal (none: 401). An organization token searches only its own
// organization (its cursors are bound to it) and reads only its own
// events; naming another org_id, or another organization's event, answers
// 404 as if nothing matched. It only reads the log and reads no
// environment.
package deliveries

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/internal/httpapi"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// Path is the search; Path + "/{event_id}" is an event's timeline.
const Path = "/v1/deliveries"

// Handler serves the delivery log of store.
func Handler(store logstore.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httpapi.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
			return
		}
		p, authed := apitoken.RequestPrincipal(w, r)
		if !authed {
			return
		}
		switch rest, ok := strings.CutPrefix(r.URL.Path, Path); {
		case ok && (rest == "" || rest == "/"):
			search(w, r, store, p)
		case ok && strings.HasPrefix(rest, "/") && !strings.Contains(rest[1:], "/"):
			timeline(w, r, store, p, rest[1:])
		default:
			httpapi.WriteError(w, http.StatusNotFound, "not_found", "no such endpoint; use GET "+Path+" or "+Path+"/{event_id}")
		}
	})
}

func search(w http.ResponseWriter, r *http.Request, store logstore.Store, p apitoken.Principal) {
	q, qe := parseSearch(r.URL.Query())
	if err := qe.Err(); err != nil {
		badRequest(w, qe)
		return
	}
	org, ok := p.OrgFilter(q.OrgID)
	if !ok {
		httpapi.WriteError(w, http.StatusNotFound, "not_found", "no deliveries match the search")
		return
	}
	q.OrgID = org // the cursor check (logstore.Query.Check) binds cursors to it
	page, err := store.Search(r.Context(), q)
	var bad *logstore.QueryError
	switch {
	case errors.As(err, &bad):
		badRequest(w, bad)
	case err != nil:
		httpapi.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the delivery log could not be read; retry")
	default:
		httpapi.WriteJSON(w, http.StatusOK, page)
	}
}

func timeline(w http.ResponseWriter, r *http.Request, store logstore.Store, p apitoken.Principal, eventID string) {
	values := r.URL.Query()
	var qe logstore.QueryError
	if !envelope.ValidOrgID(eventID) {
		qe.Add("event_id", "must match [A-Za-z0-9_-]{1,64}")
	}
	orgID := one(values, "org_id", &qe)
	for name := range values {
		if name != "org_id" {
			qe.Add(name, "unknown parameter; the timeline takes only org_id")
		}
	}
	if orgID != "" && !envelope.ValidOrgID(orgID) {
		qe.Add("org_id", "must match [A-Za-z0-9_-]{1,64}")
	}
	if qe.Err() != nil {
		badRequest(w, &qe)
		return
	}
	orgID, seen := p.OrgFilter(orgID)
	if !seen {
		notFound(w, eventID)
		return
	}
	tl, err := store.Timeline(r.Context(), orgID, eventID)
	switch {
	case errors.Is(err, logstore.ErrNotFound):
		notFound(w, eventID)
	case err != nil:
		httpapi.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the delivery log could not be read; retry")
	default:
		httpapi.WriteJSON(w, http.StatusOK, tl)
	}
}

// searchParams are the parameters a search takes.
var searchParams = map[string]bool{"org_id": true, "from": true, "to": true, "state": true, "source": true,
	"event_type": true, "host": true, "status_class": true, "limit": true, "cursor": true}

// parseSearch reads the query string; every problem is collected.
func parseSearch(values url.Values) (logstore.Query, *logstore.QueryError) {
	qe := &logstore.QueryError{}
	for name := range values {
		if !searchParams[name] {
			qe.Add(name, "unknown parameter")
		}
	}
	q := logstore.Query{
		OrgID: one(values, "org_id", qe), State: one(values, "state", qe), Source: one(values, "source", qe),
		EventType: one(values, "event_type", qe), Host: one(values, "host", qe),
		StatusClass: one(values, "status_class", qe), Cursor: one(values, "cursor", qe),
	}
	q.From = parseTime(values, "from", qe)
	q.To = parseTime(values, "to", qe)
	if v := one(values, "limit", qe); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			qe.Add("limit", "must be a whole number between 1 and "+strconv.Itoa(logstore.MaxLimit))
		} else if n < 1 || n > logstore.MaxLimit {
			qe.Add("limit", "must be between 1 and "+strconv.Itoa(logstore.MaxLimit))
		} else {
			q.Limit = n
		}
	}
	if qe.Err() == nil {
		if _, err := q.Check(); err != nil {
			errors.As(err, &qe)
		}
	}
	return q, qe
}

// one returns the parameter's value; a parameter given twice is a problem.
func one(values url.Values, name string, qe *logstore.QueryError) string {
	v := values[name]
	if len(v) > 1 {
		qe.Add(name, "given more than once")
	}
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// parseTime reads an RFC 3339 time parameter.
func parseTime(values url.Values, name string, qe *logstore.QueryError) time.Time {
	v := one(values, name, qe)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		qe.Add(name, "must be an RFC 3339 time, such as 2026-12-06T10:00:00Z")
	}
	return t
}

// badRequest answers 400 with one entry per bad parameter.
func badRequest(w http.ResponseWriter, qe *logstore.QueryError) {
	httpapi.WriteInvalid(w, qe.Error(), qe.Fields)
}

// notFound answers 404 for an event that is missing or not the caller's
// to see: the two answers are the same.
func notFound(w http.ResponseWriter, eventID string) {
	httpapi.WriteError(w, http.StatusNotFound, "not_found", "the delivery log has no event "+eventID)
}
