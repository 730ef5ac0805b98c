package secrets

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

const (
	// DefaultOverlap is the product's default roll overlap: 24 hours during
	// which deliveries are signed with both the new and the old secret.
	// Callers pass it to Roll when the admin gave no overlap.
	DefaultOverlap = 24 * time.Hour
	// MaxOverlap is the longest roll overlap Roll accepts: 72 hours.
	MaxOverlap = 72 * time.Hour

	// maxWriteAttempts bounds the read-modify-write retries of one
	// operation that keeps losing the optimistic-concurrency race.
	maxWriteAttempts = 10
)

// Manager runs the signing-secret lifecycle operations (create, roll,
// delete, show, re-encrypt) against the KV bucket. Every write is a
// read-modify-write with optimistic concurrency (kv.Create for a new key,
// kv.Update with the revision read), retried on a revision conflict, so two
// admins acting at once cannot lose each other's update.
//
// Invalid input changes nothing. A Manager is safe for concurrent use if its
// fields are not changed after first use.
type Manager struct {
	// KV is the signing-secrets bucket: one record per organization, keyed
	// by org id. Required.
	KV jetstream.KeyValue
	// Keyring encrypts new secrets under its primary key (and decrypts for
	// Reencrypt). Required by Create, Roll and Reencrypt, which return
	// ErrNoMasterKey when it is nil; Delete and Show never decrypt.
	Keyring *Keyring
	// Now returns the current time. Defaults to time.Now.
	Now func() time.Time
	// Rand supplies the secrets' random bytes, their UUIDs and the AES-GCM
	// nonces. Defaults to crypto/rand.Reader; only tests set it.
	Rand io.Reader
}

// Create makes a new active secret for orgID and returns its plaintext (the
// only time it is ever returned: show it to the admin once) and its Meta.
// Any active or expiring secret is revoked immediately, with no overlap
// (Roll is the operation with an overlap).
//
// Errors wrap ErrInvalidOrgID, ErrNoMasterKey, ErrCorruptRecord (the stored
// record cannot be decoded and is left alone), ErrConflict, or the KV error.
func (m *Manager) Create(ctx context.Context, orgID string) (string, Meta, error) {
	if err := m.check(orgID, true); err != nil {
		return "", Meta{}, err
	}
	now := m.now()
	plaintext, fresh, err := m.newEntry(orgID, now)
	if err != nil {
		return "", Meta{}, err
	}
	err = m.modify(ctx, orgID, true, func(r *record) error {
		r.applyCreate(fresh, now)
		return nil
	})
	if err != nil {
		return "", Meta{}, err
	}
	return plaintext, fresh.meta(orgID, now), nil
}

// Roll makes a new active secret for orgID and returns its plaintext (shown
// once) and Meta. The previous active secret keeps signing, as the second
// v1, until now+overlap; overlap 0 revokes it at once (suspected
// compromise). A secret still in an earlier overlap is revoked now, so a
// delivery never carries more than two signatures.
//
// overlap must be within 0..MaxOverlap (DefaultOverlap is the product's
// default), else ErrInvalidOverlap. Errors also wrap ErrInvalidOrgID,
// ErrNoMasterKey, ErrNoSecret (no record or no active secret: nothing is
// written), ErrCorruptRecord, ErrConflict, or the KV error.
func (m *Manager) Roll(ctx context.Context, orgID string, overlap time.Duration) (string, Meta, error) {
	if err := m.check(orgID, true); err != nil {
		return "", Meta{}, err
	}
	if overlap < 0 || overlap > MaxOverlap {
		return "", Meta{}, fmt.Errorf("secrets: overlap %s is outside 0..%s: %w", overlap, MaxOverlap, ErrInvalidOverlap)
	}
	now := m.now()
	plaintext, fresh, err := m.newEntry(orgID, now)
	if err != nil {
		return "", Meta{}, err
	}
	err = m.modify(ctx, orgID, false, func(r *record) error {
		return r.applyRoll(fresh, now, overlap)
	})
	if err != nil {
		return "", Meta{}, err
	}
	return plaintext, fresh.meta(orgID, now), nil
}

// Delete revokes every secret of orgID (active and expiring) at once. From
// then on its deliveries go out unsigned, until Create makes a new secret.
// The revoked entries stay in the record for Show.
//
// Errors wrap ErrInvalidOrgID, ErrNoSecret (no record, or nothing left to
// revoke: nothing is written), ErrCorruptRecord, ErrConflict, or the KV
// error.
func (m *Manager) Delete(ctx context.Context, orgID string) error {
	if err := m.check(orgID, false); err != nil {
		return err
	}
	now := m.now()
	return m.modify(ctx, orgID, false, func(r *record) error {
		return r.applyDelete(now)
	})
}

// Show returns the metadata of every secret in orgID's record, revoked ones
// included, newest first. It never returns plaintext. An expiring secret
// whose overlap has ended is reported as revoked.
//
// Errors wrap ErrInvalidOrgID, ErrNoSecret (no record), ErrCorruptRecord, or
// the KV error.
func (m *Manager) Show(ctx context.Context, orgID string) ([]Meta, error) {
	if err := m.check(orgID, false); err != nil {
		return nil, err
	}
	r, _, err := m.load(ctx, orgID)
	if err != nil {
		return nil, err
	}
	now := m.now()
	metas := make([]Meta, len(r.Secrets))
	for i := range r.Secrets {
		metas[i] = r.Secrets[i].meta(orgID, now)
	}
	return metas, nil
}

// modify runs one optimistic read-modify-write of orgID's record. A missing
// record is started empty when create is true, else it is ErrNoSecret. fn
// changes the record or returns an error that aborts without writing
// (errUnchanged aborts silently). A revision conflict restarts from the read.
func (m *Manager) modify(ctx context.Context, orgID string, create bool, fn func(*record) error) error {
	for range maxWriteAttempts {
		r, rev, err := m.load(ctx, orgID)
		switch {
		case errors.Is(err, ErrNoSecret) && create:
			r = &record{V: RecordVersion, OrgID: orgID}
		case err != nil:
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
		data, err := encodeRecord(r)
		if err != nil {
			return err
		}
		if rev == 0 {
			_, err = m.KV.Create(ctx, orgID, data)
		} else {
			_, err = m.KV.Update(ctx, orgID, data, rev)
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			continue // another writer won the race: read its version and retry
		default:
			return fmt.Errorf("secrets: org %q: write record: %w", orgID, err)
		}
	}
	return fmt.Errorf("secrets: org %q: gave up after %d attempts: %w", orgID, maxWriteAttempts, ErrConflict)
}

// load reads and decodes orgID's record and returns it with its revision.
// A missing (or deleted) key is ErrNoSecret.
func (m *Manager) load(ctx context.Context, orgID string) (*record, uint64, error) {
	kve, err := m.KV.Get(ctx, orgID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, fmt.Errorf("secrets: org %q: no record: %w", orgID, ErrNoSecret)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("secrets: org %q: read record: %w", orgID, err)
	}
	r, err := decodeRecord(orgID, kve.Value())
	if err != nil {
		return nil, 0, err
	}
	return r, kve.Revision(), nil
}

// newEntry generates a secret for orgID and returns its plaintext and its
// sealed active entry.
func (m *Manager) newEntry(orgID string, now time.Time) (string, entry, error) {
	random := m.random()
	plaintext, err := sign.GenerateSecret(random)
	if err != nil {
		return "", entry{}, fmt.Errorf("secrets: org %q: %w", orgID, err)
	}
	id, err := uuid.NewRandomFromReader(random)
	if err != nil {
		return "", entry{}, fmt.Errorf("secrets: org %q: generate secret id: %w", orgID, err)
	}
	s, err := m.Keyring.seal(random, orgID, id.String(), []byte(plaintext))
	if err != nil {
		return "", entry{}, fmt.Errorf("secrets: org %q: encrypt secret: %w", orgID, err)
	}
	return plaintext, entry{
		ID: id.String(), Status: StatusActive, CreatedAt: now, Preview: sign.Mask(plaintext),
		KeyID: s.keyID, Nonce: s.nonce, Ciphertext: s.ciphertext,
	}, nil
}

// check validates the Manager and orgID before any I/O.
func (m *Manager) check(orgID string, needKeyring bool) error {
	if err := m.checkConfig(needKeyring); err != nil {
		return err
	}
	return checkOrgID(orgID)
}

// checkConfig validates the Manager's fields.
func (m *Manager) checkConfig(needKeyring bool) error {
	if m == nil || m.KV == nil {
		return errors.New("secrets: Manager.KV is nil")
	}
	if needKeyring && m.Keyring == nil {
		return fmt.Errorf("secrets: Manager.Keyring is nil: %w", ErrNoMasterKey)
	}
	return nil
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

func (m *Manager) random() io.Reader {
	if m.Rand != nil {
		return m.Rand
	}
	return rand.Reader
}
