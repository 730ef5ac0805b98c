// Package apitoken owns who may read and change what: the API tokens
// (operator or organization scope), kept in a JetStream KV bucket as
// SHA-256 digests only, and the Principal a request authenticates as,
// whose methods are the one place the organization scope is decided. The
// HTTP APIs and the console ask the Principal; none decides scope itself.
//
// A token is "wht_<id>_<secret>": id is 16 hex digits (the KV key, shown
// in listings), secret 32 random bytes in base64url. The token is shown
// once, when it is created; the bucket holds its SHA-256 and its metadata
// (name, scope, organization, replay permission, creation and last use).
//
// This package reads no environment.
package apitoken

import (
	"context"
	"errors"
)

// Scope is what a token may reach.
type Scope string

// The scopes.
const (
	// ScopeOperator reads every organization, manages secrets, replays and
	// purges.
	ScopeOperator Scope = "operator"
	// ScopeOrg reads one organization's deliveries, attempts, undelivered
	// events and secret metadata, and replays its undelivered events when
	// the token allows it.
	ScopeOrg Scope = "org"
)

// ErrForbidden means the principal may see the organization but not do
// this to it (an organization token asking to purge, or to roll a secret).
var ErrForbidden = errors.New("apitoken: not allowed for this token")

// Principal is who a request authenticated as.
type Principal struct {
	// TokenID is the stored token's id; "" for a token from the
	// environment (PUBLISHER_ADMIN_TOKENS).
	TokenID string `json:"token_id,omitempty"`
	// Name is the token's name, for logs and the console.
	Name string `json:"name"`
	// Scope is ScopeOperator or ScopeOrg.
	Scope Scope `json:"scope"`
	// OrgID is the organization of a ScopeOrg token.
	OrgID string `json:"org_id,omitempty"`
	// Replay allows a ScopeOrg token to replay its organization's
	// undelivered events; operators always may.
	Replay bool `json:"replay"`
}

// Operator reports whether p reaches every organization.
func (p Principal) Operator() bool { return p.Scope == ScopeOperator }

// Sees reports whether p may read orgID's data.
func (p Principal) Sees(orgID string) bool {
	return p.Operator() || (p.Scope == ScopeOrg && p.OrgID != "" && p.OrgID == orgID)
}

// OrgFilter returns the organization a read by p is limited to, given the
// organization the request named ("" when it named none): an operator gets
// what it asked for ("" reads every organization), an organization token
// always its own. ok is false when an organization token names another
// organization: answer as if nothing matched (404), never 403, so that the
// answer does not confirm the other organization's data exists.
func (p Principal) OrgFilter(requested string) (org string, ok bool) {
	if p.Operator() {
		return requested, true
	}
	if p.Scope != ScopeOrg || p.OrgID == "" {
		return "", false
	}
	if requested != "" && requested != p.OrgID {
		return "", false
	}
	return p.OrgID, true
}

// MayReplay reports whether p may replay orgID's undelivered events.
func (p Principal) MayReplay(orgID string) bool {
	return p.Operator() || (p.Sees(orgID) && p.Replay)
}

// MayManage reports whether p may change what is not one organization's
// to read: create, roll and delete secrets, purge undelivered events.
// Only operators may.
func (p Principal) MayManage() bool { return p.Operator() }

// principalKey is the context key of the request's Principal.
type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal that ctx carries. ok is false when it
// carries none: the caller must refuse the request (fail closed).
func FromContext(ctx context.Context) (p Principal, ok bool) {
	p, ok = ctx.Value(principalKey{}).(Principal)
	return p, ok && (p.Scope == ScopeOperator || (p.Scope == ScopeOrg && p.OrgID != ""))
}
