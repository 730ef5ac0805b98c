// Package secrets owns the organizations' webhook signing secrets at rest:
// their storage format in a JetStream KV bucket, their encryption under the
// operator's master key, the lifecycle operations (Manager: create, roll,
// delete, show, re-encrypt) and the deliverer's watch-backed in-memory
// lookup (Cache).
//
// It never logs, and never returns plaintext except as the one return value
// of Manager.Create and Manager.Roll (shown to the admin once). Errors and
// String methods never contain secret material. It does not create the KV
// bucket, read configuration, or sign deliveries (that is pkg/sign, with the
// secrets Cache.Signing returns).
//
// # Encryption at rest
//
// Each secret is encrypted with AES-256-GCM under a master key from the
// operator's Keyring ("kid:base64key[,kid:base64key...]", primary first), with
// a random 12-byte nonce per encryption. The GCM additional data is
// "sixtyfour-webhooks/signing-secret/v1", NUL, the org id, NUL, the secret
// id: a ciphertext copied into another organization's record, or onto
// another secret id, fails to decrypt. The record names the key id it was
// encrypted under, so master keys can be rotated (see Keyring and
// Manager.Reencrypt). DevKeyring is a publicly known key for local use only.
//
// # Record format
//
// One KV key per organization; the key is the org id
// ([A-Za-z0-9_-]{1,64}). The value is a versioned JSON record:
//
//	{"v":1,"org_id":"org_1","secrets":[
//	  {"id":"4b0f…","status":"active","created_at":"2026-05-01T10:00:00Z",
//	   "expires_at":null,"revoked_at":null,"preview":"sk_whsec_••••…ab12",
//	   "key_id":"k1","nonce":"<base64>","ciphertext":"<base64>"},
//	  {"id":"9c2e…","status":"expiring","created_at":"2026-04-01T09:00:00Z",
//	   "expires_at":"2026-05-02T10:00:00Z","revoked_at":null,"preview":"sk_whsec_••••…77f0",
//	   "key_id":"k1","nonce":"<base64>","ciphertext":"<base64>"},
//	  {"id":"0d4a…","status":"revoked","created_at":"2026-03-01T08:00:00Z",
//	   "expires_at":null,"revoked_at":"2026-04-01T09:00:00Z","preview":"sk_whsec_••••…1c9d"}
//	]}
//
// Fields:
//   - v: format version, 1 (RecordVersion). Other versions are not read.
//   - org_id: equal to the key.
//   - secrets: newest first. Each has id (UUID), status, created_at,
//     expires_at, revoked_at (RFC 3339 UTC or null) and preview (the masked
//     secret, "sk_whsec_••••…<last4>").
//   - key_id, nonce, ciphertext: the encrypted secret (nonce and
//     ciphertext are standard base64; the ciphertext includes the 16-byte
//     GCM tag). Present on active and expiring entries only: revoking a
//     secret removes its key material.
//
// Statuses:
//   - active: signs every delivery (first v1). At most one.
//   - expiring: the previous secret during a roll overlap. It still signs
//     (second v1) until expires_at; after that it is treated as revoked and
//     is rewritten as revoked (revoked_at = expires_at) by the next write.
//     At most one, and only next to an active one: a delivery never
//     carries more than two signatures.
//   - revoked: never signs; kept for audit (Manager.Show). At most
//     MaxRevoked (5) are kept, the oldest dropped first.
//
// A missing or deleted key, or a record with no active entry, means the
// organization has no secret: its deliveries go out unsigned. A record that
// cannot be decoded, breaks these rules, or cannot be decrypted means the
// organization has a secret that cannot be used: deliveries fail closed
// (nothing is sent; the attempt is retried).
//
// Writers use optimistic concurrency: kv.Create for a new key and kv.Update
// with the revision read, retried on conflict. Create the bucket with
// History 1 so that old revisions (holding revoked ciphertexts) are not
// kept.
package secrets
