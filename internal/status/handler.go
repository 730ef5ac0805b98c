package status

import (
	"errors"
	"maps"
	"net/http"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/internal/httpapi"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// Path is where Handler answers.
const Path = "/v1/status"

// Handler serves delivery status lookups:
//
//	GET /v1/status?event_id=<id>[&org_id=<org>]
//	GET /v1/status?task_id=<id>[&org_id=<org>]
//	GET /v1/status?run_id=<id>[&org_id=<org>]
//	  200 [Status, ...]                                 oldest first
//	  400 {"error": "invalid_request", "message": "...", "fields": [{"field", "message"}, ...]}
//	                                                    no selector, several, a bad, repeated or unknown parameter
//	  404 {"error": "not_found", "message": "..."}       nothing matched, or another path
//	  405 {"error": "method_not_allowed", ...}           with Allow: GET, HEAD
//	  503 {"error": "unavailable", "message": "..."}     JetStream could not be read; retry
//
// Mount it behind apitoken's Authenticator.Require: it reads the request's
// Principal (none: 401) and limits the lookup to what the principal sees.
// An organization token's lookup is limited to its organization; naming
// another org_id answers 404, as if nothing matched. The request's context
// bounds the lookup.
func Handler(store logstore.Store, js jetstream.JetStream, sc streams.Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != Path {
			httpapi.WriteError(w, http.StatusNotFound, "not_found", "no such endpoint; use GET "+Path)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httpapi.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
			return
		}
		p, ok := apitoken.RequestPrincipal(w, r)
		if !ok {
			return
		}
		q, problems := parseQuery(r)
		if len(problems) > 0 {
			httpapi.WriteInvalid(w, "the query is invalid; see fields", problems)
			return
		}
		if q.OrgID, ok = p.OrgFilter(q.OrgID); !ok {
			httpapi.WriteError(w, http.StatusNotFound, "not_found", "no delivery status matches the query")
			return
		}
		out, err := Lookup(r.Context(), store, js, sc, q)
		switch {
		case err == nil:
			httpapi.WriteJSON(w, http.StatusOK, out)
		case errors.Is(err, ErrInvalidQuery):
			httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", err.Error())
		case errors.Is(err, ErrNotFound):
			httpapi.WriteError(w, http.StatusNotFound, "not_found", "no delivery status matches the query")
		default:
			httpapi.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the status store could not be read; retry")
		}
	})
}

// parseQuery reads the query parameters and lists every problem, one
// entry per parameter: unknown, given more than once, or invalid.
func parseQuery(r *http.Request) (Query, []envelope.FieldError) {
	values := r.URL.Query()
	var (
		q        Query
		problems []envelope.FieldError
	)
	params := map[string]*string{"event_id": &q.EventID, "task_id": &q.TaskID, "run_id": &q.RunID, "org_id": &q.OrgID}
	for _, name := range slices.Sorted(maps.Keys(values)) {
		dst, ok := params[name]
		switch {
		case !ok:
			problems = append(problems, envelope.FieldError{Field: name, Message: "unknown parameter; use event_id, task_id or run_id, and org_id"})
		case len(values[name]) > 1:
			problems = append(problems, envelope.FieldError{Field: name, Message: "given more than once"})
		default:
			*dst = values[name][0]
		}
	}
	if len(problems) > 0 {
		return q, problems
	}
	return q, q.problems()
}
