package ingest

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/httpapi"
	"github.com/sixtyfour-oss/webhooks/internal/metrics"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
)

// Paths served by the handler.
const (
	// EventsPath receives events: POST only, authenticated.
	EventsPath = "/v1/events"
	// HealthPath answers 200 "ok" to GET and HEAD, without authentication.
	HealthPath = "/healthz"
)

// handler serves the ingest API.
type handler struct {
	pub     *publish.Publisher
	tokens  httpapi.Tokens
	metrics *metrics.Publisher
	maxBody int64
	log     *zerolog.Logger
	now     func() time.Time
}

// requestLog collects what the request's log line reports.
type requestLog struct {
	eventID   string
	orgID     string
	duplicate bool
	err       error // logged on 5xx only: 4xx errors describe client input
}

// NewHandler returns the ingest HTTP handler, publishing with p. It panics
// when p is nil or cfg does not pass Config.Validate, as both are
// programming errors: call Validate first to get an error instead.
func NewHandler(p *publish.Publisher, cfg Config) http.Handler {
	if p == nil {
		panic("ingest: NewHandler with a nil Publisher")
	}
	if err := cfg.Validate(); err != nil {
		panic(fmt.Sprintf("ingest: NewHandler: %v", err))
	}
	cfg = cfg.withDefaults()
	return &handler{pub: p, tokens: httpapi.NewTokens(cfg.Tokens), metrics: cfg.Metrics, maxBody: cfg.MaxBodyBytes, log: cfg.Logger, now: cfg.Now}
}

// ServeHTTP routes the request and writes one log line for it.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	var l requestLog
	status := h.route(w, r, &l)
	ev := h.log.Info()
	switch {
	case status >= 500:
		ev = h.log.Warn().Err(l.err)
	case r.URL.Path == HealthPath && status == http.StatusOK:
		ev = h.log.Debug()
	}
	ev.Str("method", r.Method).
		Str("path", r.URL.Path).
		Int("status", status).
		Str("event_id", l.eventID).
		Str("org_id", l.orgID).
		Bool("duplicate", l.duplicate).
		Float64("duration_ms", float64(h.now().Sub(start))/float64(time.Millisecond)).
		Msg("ingest request")
}

// route dispatches on the path and method and returns the status written.
func (h *handler) route(w http.ResponseWriter, r *http.Request, l *requestLog) int {
	switch r.URL.Path {
	case HealthPath:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			return writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok"))
		return http.StatusOK
	case EventsPath:
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			return writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		}
		return h.postEvent(w, r, l)
	default:
		return writeError(w, http.StatusNotFound, "not_found", "no such endpoint; events go to POST "+EventsPath)
	}
}

// postEvent authenticates, decodes and publishes one event. The body is not
// read before the caller is authenticated.
func (h *handler) postEvent(w http.ResponseWriter, r *http.Request, l *requestLog) int {
	if !h.tokens.Authorized(r) {
		return httpapi.Unauthorized(w)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json")
		}
	}
	req, err := DecodeEvent(http.MaxBytesReader(w, r.Body, h.maxBody), h.now())
	if err != nil {
		l.err = err
		return h.refuse(w, err, "")
	}
	l.eventID, l.orgID = loggable(req.EventID), loggable(req.OrgID)
	receipt, err := h.pub.Publish(r.Context(), req)
	if err != nil {
		l.err = err
		return h.refuse(w, err, req.EventID)
	}
	l.duplicate = receipt.Duplicate
	if receipt.Duplicate {
		h.metrics.Publish("duplicate")
	} else {
		h.metrics.Publish("stored")
	}
	return writeJSON(w, http.StatusAccepted, accepted{EventID: receipt.EventID, Duplicate: receipt.Duplicate})
}

// refuse maps a decode or publish error to its response, in one place:
// validation or a malformed body → 400 with one fields entry per problem
// that names a field, too large → 413, anything else → 503, since the
// event was not stored. eventID, when known, goes in the 503 body.
func (h *handler) refuse(w http.ResponseWriter, err error, eventID string) int {
	var (
		ve      *envelope.ValidationError
		tooBig  *http.MaxBytesError
		message = err.Error()
	)
	switch {
	case errors.As(err, &tooBig):
		h.metrics.Publish("too_large")
		return writeError(w, http.StatusRequestEntityTooLarge, "payload_too_large",
			fmt.Sprintf("request body exceeds %d bytes", tooBig.Limit))
	case errors.As(err, &ve):
		h.metrics.Publish("invalid")
		return writeInvalid(w, "the event is invalid; see fields", ve.Fields)
	case errors.Is(err, ErrMalformed):
		h.metrics.Publish("invalid")
		return writeInvalid(w, message, httpapi.JSONFields(err))
	case errors.Is(err, publish.ErrTooLarge):
		h.metrics.Publish("too_large")
		return writeError(w, http.StatusRequestEntityTooLarge, "payload_too_large",
			"the event exceeds the stream's maximum message size")
	default:
		h.metrics.Publish("unavailable")
		w.Header().Set("Retry-After", "1")
		return writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "unavailable",
			Message: "event not stored; retry with the same event_id", EventID: eventID})
	}
}

// loggable returns s when it is a short id made of [A-Za-z0-9_-] (event
// ids and valid organization ids), else "": raw client input is not logged.
func loggable(s string) string {
	if envelope.ValidOrgID(s) {
		return s
	}
	return ""
}
