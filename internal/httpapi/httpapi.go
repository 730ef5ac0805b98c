// Package httpapi holds what the pipeline's HTTP APIs (event ingest,
// signing-secret admin, delivery status) share: JSON responses with one
// error shape (whose 400 form lists each bad field), and bearer-token
// authentication compared in constant time.
package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
)

// Error is the body of every error response: a machine-readable code and a
// human-readable message.
type Error struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// WriteJSON writes v as a JSON response with the given status, marked
// not cacheable, and returns the status.
func WriteJSON(w http.ResponseWriter, status int, v any) int {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":"internal","message":"response encoding failed"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
	return status
}

// WriteError writes an Error response and returns the status.
func WriteError(w http.ResponseWriter, status int, code, message string) int {
	return WriteJSON(w, status, Error{Error: code, Message: message})
}

// Unauthorized writes the 401 answer, with WWW-Authenticate: Bearer.
func Unauthorized(w http.ResponseWriter) int {
	w.Header().Set("WWW-Authenticate", "Bearer")
	return WriteError(w, http.StatusUnauthorized, "unauthorized", "missing or invalid bearer token")
}

// Tokens is a set of accepted bearer tokens, kept as SHA-256 digests.
type Tokens struct {
	digests [][sha256.Size]byte
}

// NewTokens returns the set of the given tokens.
func NewTokens(tokens []string) Tokens {
	t := Tokens{digests: make([][sha256.Size]byte, len(tokens))}
	for i, tok := range tokens {
		t.digests[i] = sha256.Sum256([]byte(tok))
	}
	return t
}

// Len is the number of tokens.
func (t Tokens) Len() int { return len(t.digests) }

// Authorized reports whether r carries "Authorization: Bearer <token>"
// with an accepted token. Every token is compared, in constant time over
// SHA-256 digests, so neither the match nor a token's length shows in the
// timing.
func (t Tokens) Authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return false
	}
	got := sha256.Sum256([]byte(token))
	match := 0
	for _, want := range t.digests {
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	return match == 1
}

// Require serves h to requests that Authorized accepts and answers every
// other one 401 (Unauthorized).
func (t Tokens) Require(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !t.Authorized(r) {
			Unauthorized(w)
			return
		}
		h.ServeHTTP(w, r)
	})
}
