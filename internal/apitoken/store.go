package apitoken

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// Errors of the token store.
var (
	// ErrUnknownToken means the token is malformed, unknown or revoked.
	ErrUnknownToken = errors.New("apitoken: unknown or revoked token")
	// ErrNotFound means no stored token has the id.
	ErrNotFound = errors.New("apitoken: no such token")
	// ErrInvalidSpec wraps every Spec validation error.
	ErrInvalidSpec = errors.New("apitoken: invalid token spec")
	// ErrCorruptRecord means a stored record cannot be read.
	ErrCorruptRecord = errors.New("apitoken: stored token record cannot be read")
)

// Token format: prefix, 8 random bytes of id (hex), 32 of secret (base64url).
const (
	tokenPrefix = "wht_"
	idBytes     = 8
	secretBytes = 32
	// MaxNameLength bounds a token's name, in bytes.
	MaxNameLength = 100
	// DefaultTouchInterval is how often, at most, a token's last-used
	// time is written back.
	DefaultTouchInterval = time.Minute
)

// Spec is what a new token may do.
type Spec struct {
	// Name says what the token is for (1..MaxNameLength printable bytes).
	Name string
	// Scope is ScopeOperator or ScopeOrg.
	Scope Scope
	// OrgID is the organization of a ScopeOrg token; empty for operators.
	OrgID string
	// Replay lets a ScopeOrg token replay its organization's undelivered
	// events.
	Replay bool
}

// Validate checks s; the error names the field.
func (s Spec) Validate() error {
	var p []string
	if s.Name == "" || len(s.Name) > MaxNameLength || strings.ContainsFunc(s.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		p = append(p, fmt.Sprintf("name must be 1..%d printable characters", MaxNameLength))
	}
	switch s.Scope {
	case ScopeOperator:
		if s.OrgID != "" {
			p = append(p, "an operator token reaches every organization: give no org")
		}
		if s.Replay {
			p = append(p, "an operator token always may replay: give no replay flag")
		}
	case ScopeOrg:
		if !envelope.ValidOrgID(s.OrgID) {
			p = append(p, "org must match [A-Za-z0-9_-]{1,64}")
		}
	default:
		p = append(p, `scope must be "operator" or "org"`)
	}
	if len(p) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidSpec, strings.Join(p, "; "))
	}
	return nil
}

// Record is a stored token: everything but the token itself.
type Record struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Scope  Scope  `json:"scope"`
	OrgID  string `json:"org_id,omitempty"`
	Replay bool   `json:"replay"`
	// Hash is the hex SHA-256 of the whole token.
	Hash       string     `json:"sha256,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// Principal returns who the record's token authenticates as.
func (r Record) Principal() Principal {
	return Principal{TokenID: r.ID, Name: r.Name, Scope: r.Scope, OrgID: r.OrgID, Replay: r.Replay}
}

// Store keeps tokens in a KV bucket, one key per token id. It is safe for
// concurrent use.
type Store struct {
	kv    jetstream.KeyValue
	now   func() time.Time
	touch time.Duration

	mu      sync.Mutex
	touched map[string]time.Time // id → last write of its last-used time
}

// StoreOptions tune a Store; the zero value is the default.
type StoreOptions struct {
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// TouchInterval is how often, at most, an authentication writes the
	// token's last-used time. Defaults to DefaultTouchInterval.
	TouchInterval time.Duration
}

// NewStore returns the token store of kv.
func NewStore(kv jetstream.KeyValue, o StoreOptions) *Store {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TouchInterval <= 0 {
		o.TouchInterval = DefaultTouchInterval
	}
	return &Store{kv: kv, now: o.Now, touch: o.TouchInterval, touched: map[string]time.Time{}}
}

// Create makes a token for s and stores its digest. The token is returned
// once; it is never stored or logged.
func (st *Store) Create(ctx context.Context, s Spec) (string, Record, error) {
	if err := s.Validate(); err != nil {
		return "", Record{}, err
	}
	raw := make([]byte, idBytes+secretBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", Record{}, fmt.Errorf("apitoken: random: %w", err)
	}
	id := hex.EncodeToString(raw[:idBytes])
	token := tokenPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(raw[idBytes:])
	sum := sha256.Sum256([]byte(token))
	rec := Record{ID: id, Name: s.Name, Scope: s.Scope, OrgID: s.OrgID, Replay: s.Replay && s.Scope == ScopeOrg,
		Hash: hex.EncodeToString(sum[:]), CreatedAt: st.now().UTC()}
	body, err := json.Marshal(rec)
	if err != nil {
		return "", Record{}, fmt.Errorf("apitoken: encode: %w", err)
	}
	if _, err := st.kv.Create(ctx, id, body); err != nil {
		return "", Record{}, fmt.Errorf("apitoken: store token %s: %w", id, err)
	}
	return token, rec, nil
}

// List returns every stored token, by creation time.
func (st *Store) List(ctx context.Context) ([]Record, error) {
	lister, err := st.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("apitoken: list: %w", err)
	}
	defer func() { _ = lister.Stop() }()
	var out []Record
	for key := range lister.Keys() {
		rec, err := st.get(ctx, key)
		if errors.Is(err, ErrNotFound) {
			continue // revoked meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	slices.SortFunc(out, func(a, b Record) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// Revoke deletes the token with the id; its next request is refused.
func (st *Store) Revoke(ctx context.Context, id string) error {
	if _, err := st.get(ctx, id); err != nil && !errors.Is(err, ErrCorruptRecord) {
		return err
	}
	if err := st.kv.Purge(ctx, id); err != nil {
		return fmt.Errorf("apitoken: revoke %s: %w", id, err)
	}
	return nil
}

// Authenticate returns the Principal of token, or ErrUnknownToken. The
// digests are compared in constant time; an unknown id costs the same
// comparison. Every TouchInterval it records the token's last use (a
// failure to record it does not refuse the request).
func (st *Store) Authenticate(ctx context.Context, token string) (Principal, error) {
	id, ok := parseToken(token)
	if !ok {
		return Principal{}, ErrUnknownToken
	}
	sum := sha256.Sum256([]byte(token))
	rec, err := st.get(ctx, id)
	want, decodeErr := hex.DecodeString(rec.Hash)
	if err != nil || decodeErr != nil || len(want) != sha256.Size {
		want = make([]byte, sha256.Size) // compare anyway: same time as a known id
	}
	if subtle.ConstantTimeCompare(sum[:], want) != 1 || err != nil || decodeErr != nil {
		if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrCorruptRecord) {
			return Principal{}, err // the store did not answer: not the caller's fault
		}
		return Principal{}, ErrUnknownToken
	}
	st.touchLastUsed(ctx, rec)
	return rec.Principal(), nil
}

// touchLastUsed writes rec's last-used time when the last write is older
// than the touch interval; a concurrent revoke wins (Update by revision).
func (st *Store) touchLastUsed(ctx context.Context, rec Record) {
	now := st.now().UTC()
	st.mu.Lock()
	if last, ok := st.touched[rec.ID]; ok && now.Sub(last) < st.touch {
		st.mu.Unlock()
		return
	}
	st.touched[rec.ID] = now
	st.mu.Unlock()
	entry, err := st.kv.Get(ctx, rec.ID)
	if err != nil {
		return
	}
	t := now.Truncate(time.Second)
	rec.LastUsedAt = &t
	if body, err := json.Marshal(rec); err == nil {
		_, _ = st.kv.Update(ctx, rec.ID, body, entry.Revision())
	}
}

// get reads one record.
func (st *Store) get(ctx context.Context, id string) (Record, error) {
	entry, err := st.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) || errors.Is(err, jetstream.ErrInvalidKey) {
		return Record{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Record{}, fmt.Errorf("apitoken: read token %s: %w", id, err)
	}
	var rec Record
	if err := json.Unmarshal(entry.Value(), &rec); err != nil || rec.ID != id {
		return Record{}, fmt.Errorf("%w: %s", ErrCorruptRecord, id)
	}
	return rec, nil
}

// parseToken returns the id of a well-formed token.
func parseToken(token string) (string, bool) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return "", false
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 2*idBytes || len(secret) != base64.RawURLEncoding.EncodedLen(secretBytes) {
		return "", false
	}
	if _, err := hex.DecodeString(id); err != nil || strings.ToLower(id) != id {
		return "", false
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return "", false
	}
	return id, true
}

// ValidID reports whether id has the form of a token id.
func ValidID(id string) bool {
	_, err := hex.DecodeString(id)
	return err == nil && len(id) == 2*idBytes && strings.ToLower(id) == id
}
