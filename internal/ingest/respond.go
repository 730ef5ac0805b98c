package ingest

import (
	"net/http"

	"github.com/sixtyfour-oss/webhooks/internal/httpapi"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// accepted is the 202 body: the stored event's id, and whether it had been
// stored already (a client retry within the dedupe window).
type accepted struct {
	EventID   string `json:"event_id"`
	Duplicate bool   `json:"duplicate"`
}

// errorBody is the body of every error response but invalid_request
// (httpapi.Invalid, which adds fields). EventID is present on unavailable
// only, so that a client that let the service choose the id can retry
// with it.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	EventID string `json:"event_id,omitempty"`
}

// writeJSON writes v as the JSON response with the given status and
// returns the status.
func writeJSON(w http.ResponseWriter, status int, v any) int { return httpapi.WriteJSON(w, status, v) }

// writeError writes an error response with a machine-readable code.
func writeError(w http.ResponseWriter, status int, code, message string) int {
	return writeJSON(w, status, errorBody{Error: code, Message: message})
}

// writeInvalid writes a 400 invalid_request listing each bad field ([]
// when the body as a whole is wrong).
func writeInvalid(w http.ResponseWriter, message string, fields []envelope.FieldError) int {
	return httpapi.WriteInvalid(w, message, fields)
}
