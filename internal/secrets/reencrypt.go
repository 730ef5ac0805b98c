package secrets

import (
	"context"
	"errors"
	"fmt"
)

// errUnchanged aborts a modify without writing and without error.
var errUnchanged = errors.New("secrets: record unchanged")

// Reencrypt rewrites every record whose active or expiring secrets are not
// encrypted under the keyring's primary key, re-sealing them under it (with
// fresh nonces), and returns how many records it rewrote. It is the second
// step of a master-key rotation: deploy "new:...,old:..." everywhere, run
// Reencrypt, then deploy "new:..." alone. Revoked entries hold no key
// material and need nothing. Running it again is harmless (it rewrites
// nothing).
//
// Keys that are not valid organization ids are skipped. A record that fails
// (corrupt, unknown key id, decryption failure) does not stop the others:
// Reencrypt carries on and returns the count with all failures joined
// (errors.Join; each wraps ErrCorruptRecord, ErrUnknownKeyID, ErrDecrypt,
// ErrConflict or the KV error, and names the organization). Errors wrap
// ErrNoMasterKey when the Keyring is nil.
func (m *Manager) Reencrypt(ctx context.Context) (int, error) {
	if err := m.checkConfig(true); err != nil {
		return 0, err
	}
	lister, err := m.KV.ListKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("secrets: reencrypt: list keys: %w", err)
	}
	var keys []string
	for key := range lister.Keys() {
		keys = append(keys, key)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("secrets: reencrypt: list keys: %w", err)
	}
	n := 0
	var errs []error
	for _, orgID := range keys {
		if !validOrgID(orgID) {
			continue
		}
		err := m.modify(ctx, orgID, false, func(r *record) error {
			return m.reseal(r)
		})
		switch {
		case err == nil:
			n++
		case errors.Is(err, errUnchanged), errors.Is(err, ErrNoSecret):
			// Already under the primary key, or deleted since it was listed.
		default:
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return n, errors.Join(errs...)
}

// reseal re-encrypts, under the primary key, the signing entries of r that
// another key encrypted. It returns errUnchanged when there are none.
func (m *Manager) reseal(r *record) error {
	r.expire(m.now())
	changed := false
	for i := range r.Secrets {
		e := &r.Secrets[i]
		if !e.signs() || e.KeyID == m.Keyring.PrimaryID() {
			continue
		}
		plaintext, err := m.Keyring.open(r.OrgID, e.ID, e.sealed())
		if err != nil {
			return fmt.Errorf("secrets: org %q: secret %s: %w", r.OrgID, e.ID, err)
		}
		s, err := m.Keyring.seal(m.random(), r.OrgID, e.ID, plaintext)
		clear(plaintext)
		if err != nil {
			return fmt.Errorf("secrets: org %q: secret %s: %w", r.OrgID, e.ID, err)
		}
		e.KeyID, e.Nonce, e.Ciphertext = s.keyID, s.nonce, s.ciphertext
		changed = true
	}
	if !changed {
		return errUnchanged
	}
	r.trimRevoked()
	return nil
}
