// Package ingest is the HTTP front door of the pipeline for job services
// written in languages other than Go: it authenticates a caller by bearer
// token, decodes one event from a JSON body, and hands it to
// [publish.Publisher], answering 202 only once JetStream has stored the
// event. It owns the ingest body format ([Event], [DecodeEvent]), which
// cmd/publisher's publish subcommand reads too.
//
// The HTTP contract (every response except /healthz is JSON):
//
//	POST /v1/events  Authorization: Bearer <token>  Content-Type: application/json
//	  202 {"event_id": "...", "duplicate": false}      stored (duplicate: true when a
//	                                                   retry with the same event_id was
//	                                                   already stored in the dedupe window)
//	  400 {"error": "invalid_request", "message": "...", "fields": [{"field": "url", "message": "..."}]}
//	  401 {"error": "unauthorized", "message": "..."}  with WWW-Authenticate: Bearer
//	  405 {"error": "method_not_allowed", ...}         with Allow: POST
//	  413 {"error": "payload_too_large", "message": "..."}
//	  415 {"error": "unsupported_media_type", ...}
//	  503 {"error": "unavailable", "message": "event not stored; retry with the same event_id",
//	       "event_id": "..."}  with Retry-After: 1 (event_id is the id to retry with, also
//	                           when the service chose it)
//	GET /healthz  200 "ok" (no authentication; liveness only, NATS is not checked)
//	any other path  404 {"error": "not_found", ...}
//
// A 2xx is never returned for an event that was not stored. A client that
// sees anything else (or no answer) retries with the same event_id; the
// stream's Nats-Msg-Id dedupe makes that safe.
//
// This package reads no environment and starts no server: cmd/publisher
// does both. It never logs the Authorization header or a request body.
package ingest
