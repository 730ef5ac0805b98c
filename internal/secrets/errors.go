package secrets

import "errors"

// Sentinel errors. Functions in this package wrap them with context (the
// organization id, the key id, the field) using %w; compare with errors.Is,
// never by message. No error of this package contains secret material:
// neither a plaintext secret, nor a master key, nor a ciphertext.
var (
	// ErrInvalidOrgID means an organization id does not match
	// [A-Za-z0-9_-]{1,64}. Nothing was read or written.
	ErrInvalidOrgID = errors.New("secrets: invalid organization id")

	// ErrInvalidOverlap means a roll overlap is outside 0..MaxOverlap.
	// Nothing was written.
	ErrInvalidOverlap = errors.New("secrets: invalid roll overlap")

	// ErrNoSecret means the organization has no record (Roll, Delete, Show)
	// or no active secret to roll or delete. Nothing was written.
	ErrNoSecret = errors.New("secrets: organization has no signing secret")

	// ErrNoMasterKey means no master key is configured: a nil *Keyring, or
	// an empty keyring spec. Nothing was written.
	ErrNoMasterKey = errors.New("secrets: no master key configured")

	// ErrInvalidKeyring means a keyring spec could not be parsed. The error
	// names the entry (by position, and by key id when that id is valid)
	// but never contains key material.
	ErrInvalidKeyring = errors.New("secrets: invalid master keyring")

	// ErrUnknownKeyID means a record was encrypted under a master key id
	// that the keyring does not hold (a retired or not yet deployed key).
	ErrUnknownKeyID = errors.New("secrets: unknown master key id")

	// ErrDecrypt means AES-GCM authentication failed: the ciphertext or
	// nonce was altered, it was copied from another organization or secret
	// id (they are the additional data), or the key under that id changed.
	ErrDecrypt = errors.New("secrets: decryption failed")

	// ErrCorruptRecord means a KV value could not be decoded as a version 1
	// record or breaks its invariants. Managers refuse to write over it (an
	// operator must inspect it); the Cache treats the organization as
	// fail-closed.
	ErrCorruptRecord = errors.New("secrets: corrupt secret record")

	// ErrConflict means a write lost the optimistic-concurrency race
	// (another writer changed the record) on every one of maxWriteAttempts
	// attempts. Nothing was written by this call; it is safe to retry.
	ErrConflict = errors.New("secrets: concurrent update conflict")

	// ErrSecretUnavailable is returned by Cache.Signing when the organization
	// has a secret that cannot be used right now: its record is corrupt, its
	// master key id is unknown, decryption failed, or the cache is stopped
	// and cannot be trusted. The deliverer must fail closed: send nothing
	// and retry later. It is never returned for an organization without a
	// secret (that is nil, nil: deliver unsigned).
	ErrSecretUnavailable = errors.New("secrets: signing secret unavailable")
)
