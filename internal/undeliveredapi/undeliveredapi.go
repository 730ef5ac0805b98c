// Package undeliveredapi serves the undelivered stream (internal/undelivered)
// over HTTP, to operators and to organization tokens, each request scoped
// by its apitoken.Principal:
//
//	GET  /v1/undelivered?org_id=&source=&event_type=&host=&since=&until=&limit=
//	  200 {"undelivered": [Item, ...], "truncated": bool}      oldest first
//	GET  /v1/undelivered/{event_id}[?org_id=]
//	  200 Detail: the Item, "request" (the delivery request) and "failure" (the failure record)
//	POST /v1/undelivered/replay
//	  body (every member optional): {"org_id", "source", "event_type", "host", "since", "until",
//	        "event_ids": [...], "all": bool, "dry_run": bool, "rate_per_second": number}
//	  200 Summary {"matched", "replayed", "skipped", "failed", "errors": [{"event_id", "error"}],
//	        "sample": [Item, ...], "dry_run", "duration_ms"}
//	POST /v1/undelivered/{event_id}/replay
//	  body (optional): {"dry_run": bool}
//	  200 Summary; 404 when the event is not undelivered
//	POST /v1/undelivered/purge                                          operators only
//	  body: as replay's, without rate_per_second
//	  200 PurgeResult {"matched", "purged", "sample": [Item, ...], "dry_run"}
//
// The list's limit is 1..MaxLimit (DefaultLimit); since and until are RFC
// 3339 times bounding when an event was dead-lettered, inclusive; host
// matches in any case; event_ids is an OR list of at most MaxEventIDs. A
// dry run changes nothing: it counts the selection and returns its first
// undelivered.SampleSize events as "sample". The POST endpoints take no
// query parameters. A replay runs within its request, at most
// rate_per_second publishes per second (0, the default: unlimited); a
// client that goes away stops it, and running the same replay again
// replays the rest without replaying any event twice (see
// internal/undelivered).
//
// A selection of every event of every organization (an operator's empty
// filter) is refused unless the body says "all": true, dry runs included,
// so that an empty or mistyped body never replays or purges the whole
// stream (webhooksctl asks for confirmation or --all the same way).
//
// Scope: every decision is the Principal's (OrgFilter, Sees, MayReplay,
// MayManage). An organization token reads and replays only its own
// organization: its filters are forced to it, its list never holds another
// organization's events, and naming another organization (org_id in the
// query or the body) or another organization's event id in the path
// answers 404 with the same body as an event that does not exist, never
// 403, so that the answer does not confirm the other organization's data
// exists; another organization's ids in event_ids simply match nothing.
// Replay needs MayReplay for the organization of every event replayed:
// it is checked for the filter's organization before anything is read (an
// organization token without the replay permission gets 403), and for
// each event's own organization just before it is published. Purge needs MayManage (operators): an organization token gets
// 403 on its own organization and 404 on another.
//
// Errors, in the httpapi shape: 400 invalid_request (httpapi.Invalid,
// whose fields name each bad parameter, or body member by its JSON path),
// 401 unauthorized without a principal, 403 forbidden, 404 not_found, 405
// method_not_allowed (with Allow), 413 too_large for a body over
// MaxBodyBytes, 503 unavailable when the streams cannot be read or a
// replay or purge stopped (its body says how far it got; run it again).
//
// It does not authenticate: mount it behind apitoken's Authenticator.Require
// at Path and Path + "/". Each replay and purge is logged at info with the
// principal's name and token id (never a token), the organization and the
// counts. It reads no environment and never changes the streams'
// configuration.
package undeliveredapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/internal/httpapi"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// Path is the list; Path + "/{event_id}" is one event, Path + "/replay",
// Path + "/{event_id}/replay" and Path + "/purge" change the stream.
const Path = "/v1/undelivered"

// Options configure the Handler. The zero value serves without a delivery
// log and logs nothing.
type Options struct {
	// History returns an event's latest round from the delivery log (nil
	// when the log has none); it is undelivered.ReplayOptions.History, which
	// keeps a replay that was interrupted and run again after the dedupe
	// window from publishing an event twice. Defaults to nil: no log.
	History func(ctx context.Context, orgID, eventID string) (*envelope.Outcome, error)
	// Log receives one info line per replay and purge, and the errors.
	// Defaults to the zero Logger, which writes nothing.
	Log zerolog.Logger
}

// api is the Handler's state.
type api struct {
	js      jetstream.JetStream
	sc      streams.Config
	history historyFunc
	log     zerolog.Logger
}

// Handler serves the undelivered stream of sc (zero fields default) on js.
// Every request must carry an apitoken.Principal (Authenticator.Require);
// one without is answered 401.
func Handler(js jetstream.JetStream, sc streams.Config, opts Options) http.Handler {
	return &api{js: js, sc: sc.WithDefaults(), history: opts.History, log: opts.Log}
}

// ServeHTTP routes a request. The principal is required first, so that an
// unauthenticated request learns nothing about the routes.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := apitoken.RequestPrincipal(w, r)
	if !ok {
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, Path)
	if !ok || (rest != "" && rest[0] != '/') {
		noEndpoint(w)
		return
	}
	parts := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "":
		onlyGet(w, r, func() { a.list(w, r, p) })
	case len(parts) == 1 && parts[0] == "replay":
		onlyPost(w, r, func() { a.replayMany(w, r, p) })
	case len(parts) == 1 && parts[0] == "purge":
		onlyPost(w, r, func() { a.purge(w, r, p) })
	case len(parts) == 1:
		onlyGet(w, r, func() { a.show(w, r, p, parts[0]) })
	case len(parts) == 2 && parts[1] == "replay":
		onlyPost(w, r, func() { a.replayOne(w, r, p, parts[0]) })
	default:
		noEndpoint(w)
	}
}

// onlyGet serves GET and HEAD with serve and answers other methods 405.
func onlyGet(w http.ResponseWriter, r *http.Request, serve func()) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpapi.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
		return
	}
	serve()
}

// onlyPost serves POST with serve and answers other methods 405.
func onlyPost(w http.ResponseWriter, r *http.Request, serve func()) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		httpapi.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return
	}
	serve()
}

// noEndpoint answers a path that is not one of the API's.
func noEndpoint(w http.ResponseWriter) {
	httpapi.WriteError(w, http.StatusNotFound, "not_found",
		"no such endpoint; see GET "+Path+", GET "+Path+"/{event_id}, POST "+Path+"/replay, POST "+Path+"/{event_id}/replay, POST "+Path+"/purge")
}

// notFound is the one answer for "nothing found" and for another
// organization's data: the two must not be told apart.
func notFound(w http.ResponseWriter) {
	httpapi.WriteError(w, http.StatusNotFound, "not_found", "no such undelivered event")
}

// forbidden answers a principal that sees the organization but may not do
// this to it.
func forbidden(w http.ResponseWriter, message string) {
	httpapi.WriteError(w, http.StatusForbidden, "forbidden", message)
}

// unreadable answers a failure to read the stream, and logs it.
func (a *api) unreadable(w http.ResponseWriter, p apitoken.Principal, err error) {
	a.log.Error().Err(err).Str("principal", p.Name).Msg("undelivered: the stream could not be read")
	httpapi.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the undelivered stream could not be read; retry")
}

// noStream reports whether err means the undelivered stream does not exist
// yet: nothing was ever dead-lettered on this server, which reads as an
// empty stream.
func noStream(err error) bool { return errors.Is(err, jetstream.ErrStreamNotFound) }
