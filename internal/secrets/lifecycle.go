package secrets

import (
	"fmt"
	"time"
)

// The record transitions of the lifecycle operations. They are pure: the
// Manager reads a record, applies one of these, and writes it back with
// optimistic concurrency. Every transition first lazily revokes expiring
// entries whose overlap has ended, and finally keeps at most MaxRevoked
// revoked entries. Entries stay ordered newest first.

// applyCreate revokes every signing entry at now and inserts fresh as the
// active secret: no overlap (use applyRoll for one).
func (r *record) applyCreate(fresh entry, now time.Time) {
	r.expire(now)
	for i := range r.Secrets {
		if r.Secrets[i].signs() {
			r.Secrets[i].revoke(now)
		}
	}
	r.insert(fresh)
}

// applyRoll makes fresh the active secret. The previous active one becomes
// expiring until now+overlap, or is revoked at once when overlap is 0; an
// older expiring one is revoked at now, so at most two secrets sign. It
// returns ErrNoSecret, changing nothing, when there is no active secret.
func (r *record) applyRoll(fresh entry, now time.Time, overlap time.Duration) error {
	r.expire(now)
	active := r.find(StatusActive)
	if active == nil {
		return fmt.Errorf("secrets: org %q: no active secret to roll: %w", r.OrgID, ErrNoSecret)
	}
	if old := r.find(StatusExpiring); old != nil {
		old.revoke(now)
	}
	if overlap == 0 {
		active.revoke(now)
	} else {
		until := now.Add(overlap)
		active.Status, active.ExpiresAt = StatusExpiring, &until
	}
	r.insert(fresh)
	return nil
}

// applyDelete revokes every signing entry at now. It returns ErrNoSecret,
// changing nothing, when no entry signs.
func (r *record) applyDelete(now time.Time) error {
	r.expire(now)
	revoked := 0
	for i := range r.Secrets {
		if r.Secrets[i].signs() {
			r.Secrets[i].revoke(now)
			revoked++
		}
	}
	if revoked == 0 {
		return fmt.Errorf("secrets: org %q: no active secret to delete: %w", r.OrgID, ErrNoSecret)
	}
	r.trimRevoked()
	return nil
}

// expire revokes, as of their expires_at, the expiring entries whose
// overlap has ended at now.
func (r *record) expire(now time.Time) {
	for i := range r.Secrets {
		if e := &r.Secrets[i]; e.expiredAt(now) {
			e.revoke(*e.ExpiresAt)
		}
	}
}

// insert puts e first (newest first) and trims old revoked entries.
func (r *record) insert(e entry) {
	r.Secrets = append([]entry{e}, r.Secrets...)
	r.trimRevoked()
}

// find returns the first entry with the status, or nil.
func (r *record) find(status string) *entry {
	for i := range r.Secrets {
		if r.Secrets[i].Status == status {
			return &r.Secrets[i]
		}
	}
	return nil
}

// trimRevoked drops the oldest revoked entries beyond MaxRevoked.
func (r *record) trimRevoked() {
	kept := r.Secrets[:0]
	revoked := 0
	for _, e := range r.Secrets {
		if e.Status == StatusRevoked {
			if revoked == MaxRevoked {
				continue
			}
			revoked++
		}
		kept = append(kept, e)
	}
	clear(r.Secrets[len(kept):])
	r.Secrets = kept
}

// revoke marks e revoked at the given time and removes its key material:
// a revoked secret is kept for audit only and is never decrypted again.
func (e *entry) revoke(at time.Time) {
	e.Status, e.RevokedAt = StatusRevoked, &at
	e.KeyID, e.Nonce, e.Ciphertext = "", nil, nil
}
