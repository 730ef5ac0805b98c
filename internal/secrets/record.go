package secrets

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// RecordVersion is the "v" of the record format this package reads and
// writes. A record with another version is corrupt to this code
// (ErrCorruptRecord): it is neither used for signing nor overwritten.
const RecordVersion = 1

// MaxRevoked is how many revoked entries a record keeps for audit (shown by
// Manager.Show); older revoked entries are dropped on the next write.
const MaxRevoked = 5

// Secret statuses, as stored in a record and reported in Meta.Status.
const (
	// StatusActive marks the current secret: it signs every delivery and is
	// listed first. A record has at most one.
	StatusActive = "active"
	// StatusExpiring marks the previous secret during a roll overlap: it
	// still signs (second v1) until expires_at. A record has at most one,
	// and only next to an active one.
	StatusExpiring = "expiring"
	// StatusRevoked marks a secret that never signs again. Its key material
	// is removed from the record; only metadata is kept for audit.
	StatusRevoked = "revoked"
)

// Meta describes one secret without its plaintext: what Manager.Show lists
// and what Create and Roll return next to the plaintext. It is safe to log.
type Meta struct {
	// ID is the secret's UUID.
	ID string `json:"id"`
	// OrgID is the organization the secret belongs to.
	OrgID string `json:"org_id"`
	// Preview is the masked secret, "sk_whsec_••••…<last4>".
	Preview string `json:"preview"`
	// Status is StatusActive, StatusExpiring or StatusRevoked. An expiring
	// secret whose ExpiresAt has passed is reported as revoked (RevokedAt =
	// ExpiresAt) even before a write records it so.
	Status string `json:"status"`
	// CreatedAt is when the secret was created (UTC).
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when an expiring secret stops signing; nil for a secret
	// that was never rolled with an overlap.
	ExpiresAt *time.Time `json:"expires_at"`
	// RevokedAt is when the secret stopped signing; nil unless revoked.
	RevokedAt *time.Time `json:"revoked_at"`
}

// record is the JSON value stored under one organization's KV key; see the
// package documentation for the format.
type record struct {
	V       int     `json:"v"`
	OrgID   string  `json:"org_id"`
	Secrets []entry `json:"secrets"`
}

// entry is one secret in a record. KeyID, Nonce and Ciphertext are set for
// active and expiring entries and removed when an entry is revoked.
type entry struct {
	ID         string     `json:"id"`
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	Preview    string     `json:"preview"`
	KeyID      string     `json:"key_id,omitempty"`
	Nonce      []byte     `json:"nonce,omitempty"`      // standard base64 in JSON
	Ciphertext []byte     `json:"ciphertext,omitempty"` // standard base64 in JSON
}

// signs reports whether the entry's status lets it sign (ignoring expiry).
func (e *entry) signs() bool { return e.Status == StatusActive || e.Status == StatusExpiring }

// sealed returns the entry's encrypted secret.
func (e *entry) sealed() sealed {
	return sealed{keyID: e.KeyID, nonce: e.Nonce, ciphertext: e.Ciphertext}
}

// meta returns the entry's Meta as seen at now (see Meta.Status).
func (e *entry) meta(orgID string, now time.Time) Meta {
	m := Meta{ID: e.ID, OrgID: orgID, Preview: e.Preview, Status: e.Status,
		CreatedAt: e.CreatedAt, ExpiresAt: e.ExpiresAt, RevokedAt: e.RevokedAt}
	if e.expiredAt(now) {
		m.Status, m.RevokedAt = StatusRevoked, e.ExpiresAt
	}
	return m
}

// expiredAt reports whether e is an expiring entry whose overlap has ended.
func (e *entry) expiredAt(now time.Time) bool {
	return e.Status == StatusExpiring && e.ExpiresAt != nil && !now.Before(*e.ExpiresAt)
}

// validOrgID reports whether id matches [A-Za-z0-9_-]{1,64}.
func validOrgID(id string) bool { return validToken(id, 64) }

func checkOrgID(orgID string) error {
	if !validOrgID(orgID) {
		return fmt.Errorf("secrets: organization id %q must match [A-Za-z0-9_-]{1,64}: %w", orgID, ErrInvalidOrgID)
	}
	return nil
}

// encodeRecord returns the JSON value of r.
func encodeRecord(r *record) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("secrets: org %q: encode record: %w", r.OrgID, err)
	}
	return b, nil
}

// decodeRecord parses and validates the value stored under key. Its errors
// wrap ErrCorruptRecord and name the key and the broken rule; they never
// quote the value (which may hold anything).
func decodeRecord(key string, data []byte) (*record, error) {
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, corrupt(key, describeJSONError(err))
	}
	if r.V != RecordVersion {
		return nil, corrupt(key, fmt.Sprintf("unsupported version %d, want %d", r.V, RecordVersion))
	}
	if r.OrgID != key {
		return nil, corrupt(key, "org_id does not match the key")
	}
	if problem := checkEntries(r.Secrets); problem != "" {
		return nil, corrupt(key, problem)
	}
	return &r, nil
}

func corrupt(key, problem string) error {
	return fmt.Errorf("secrets: org %q: record %s: %w", key, problem, ErrCorruptRecord)
}

// checkEntries returns "" if the entries keep the record's invariants, or
// the first broken rule.
func checkEntries(entries []entry) string {
	var active, expiring int
	seen := make(map[string]bool, len(entries))
	for i := range entries {
		e := &entries[i]
		if problem := checkEntry(e); problem != "" {
			return fmt.Sprintf("secrets[%d]: %s", i, problem)
		}
		if seen[e.ID] {
			return fmt.Sprintf("secrets[%d]: duplicate id", i)
		}
		seen[e.ID] = true
		switch e.Status {
		case StatusActive:
			active++
		case StatusExpiring:
			expiring++
		}
	}
	switch {
	case active > 1:
		return fmt.Sprintf("has %d active secrets, want at most 1", active)
	case expiring > 1:
		return fmt.Sprintf("has %d expiring secrets, want at most 1", expiring)
	case expiring == 1 && active == 0:
		return "has an expiring secret but no active one"
	}
	return ""
}

// checkEntry returns "" if e is well formed, or the first broken rule.
func checkEntry(e *entry) string {
	if _, err := uuid.Parse(e.ID); err != nil {
		return "id is not a UUID"
	}
	if e.CreatedAt.IsZero() {
		return "created_at is missing"
	}
	switch e.Status {
	case StatusActive:
	case StatusExpiring:
		if e.ExpiresAt == nil {
			return "expiring secret has no expires_at"
		}
	case StatusRevoked:
		if e.RevokedAt == nil {
			return "revoked secret has no revoked_at"
		}
		return ""
	default:
		return "unknown status"
	}
	switch {
	case !validKeyID(e.KeyID):
		return "key_id is missing or invalid"
	case len(e.Nonce) != NonceBytes:
		return fmt.Sprintf("nonce is %d bytes, want %d", len(e.Nonce), NonceBytes)
	case len(e.Ciphertext) == 0:
		return "ciphertext is missing"
	}
	return ""
}

// describeJSONError says where JSON decoding failed without quoting the
// input: encoding/json errors may echo characters or number literals from
// the value.
func describeJSONError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var b64 base64.CorruptInputError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("is not valid JSON (offset %d)", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q has the wrong JSON type", typ.Field)
	case errors.As(err, &b64):
		return "has a nonce or ciphertext that is not valid base64"
	default:
		return "is not a valid JSON record"
	}
}
