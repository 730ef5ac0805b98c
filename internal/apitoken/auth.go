package apitoken

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/sixtyfour-oss/webhooks/internal/httpapi"
)

// Authenticator accepts the operator tokens given at start (the
// environment's PUBLISHER_ADMIN_TOKENS) and the tokens of a Store.
type Authenticator struct {
	static []staticToken
	store  *Store
}

// staticToken is an operator token from the environment, as a digest.
type staticToken struct {
	digest [sha256.Size]byte
	name   string
}

// NewAuthenticator accepts operatorTokens, named "<source> #n", and the
// tokens of store (nil: none).
func NewAuthenticator(store *Store, source string, operatorTokens []string) *Authenticator {
	a := &Authenticator{store: store}
	for i, tok := range operatorTokens {
		a.static = append(a.static, staticToken{digest: sha256.Sum256([]byte(tok)), name: fmt.Sprintf("%s #%d", source, i+1)})
	}
	return a
}

// Store returns the token store; nil when there is none.
func (a *Authenticator) Store() *Store { return a.store }

// Authenticate returns the Principal of token. The environment's tokens
// are all compared, in constant time over digests; a token of the
// store's form is then looked up in the store. Errors: ErrUnknownToken, or
// the store's error when it cannot be read.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, ErrUnknownToken
	}
	sum := sha256.Sum256([]byte(token))
	match := -1
	for i, s := range a.static {
		if subtle.ConstantTimeCompare(sum[:], s.digest[:]) == 1 {
			match = i
		}
	}
	if match >= 0 {
		return Principal{Name: a.static[match].name, Scope: ScopeOperator}, nil
	}
	if a.store == nil {
		return Principal{}, ErrUnknownToken
	}
	return a.store.Authenticate(ctx, token)
}

// Bearer returns the token of "Authorization: Bearer <token>"; "" when
// there is none.
func Bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// Require serves h to requests with an accepted bearer token, their
// Principal in the request's context (FromContext). Others get 401, and
// 503 when the token store cannot be read.
func (a *Authenticator) Require(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r.Context(), Bearer(r))
		switch {
		case errors.Is(err, ErrUnknownToken):
			httpapi.Unauthorized(w)
		case err != nil:
			httpapi.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the token store cannot be read; retry")
		default:
			h.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		}
	})
}

// RequestPrincipal returns the request's Principal, or answers 401 and returns
// ok false when it has none (a handler mounted without Require).
func RequestPrincipal(w http.ResponseWriter, r *http.Request) (Principal, bool) {
	p, ok := FromContext(r.Context())
	if !ok {
		httpapi.Unauthorized(w)
	}
	return p, ok
}
