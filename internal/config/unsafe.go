package config

import (
	"errors"

	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
)

// ErrNoMasterKey is returned when secrets are needed, WEBHOOKS_MASTER_KEY
// is not set, and WEBHOOKS_DEV_MODE is off.
var ErrNoMasterKey = errors.New("WEBHOOKS_MASTER_KEY is not set (set it to kid:base64-32-byte-key, or WEBHOOKS_DEV_MODE=true for local use only)")

// The variables the UNSAFE warnings are about, as their "setting" field
// names them.
const (
	SettingAllowDestinations = "WEBHOOKS_ALLOW_DESTINATIONS"
	SettingAllowHTTP         = "WEBHOOKS_UNSAFE_ALLOW_HTTP"
	SettingDevMode           = "WEBHOOKS_DEV_MODE"
)

// WarnUnsafe says loudly, once at start-up, which unsafe settings are on:
// an allow-list that makes private addresses reachable (policy, from
// Destinations), plain http. It is for processes to which both apply (the
// deliverer, the ingest API); a command that uses only some says only
// those (WarnAllowList, WarnPlainHTTP).
func (c Common) WarnUnsafe(log zerolog.Logger, policy egress.Policy) {
	if policy.IsUnsafe() {
		WarnAllowList(log, policy)
	}
	if c.UnsafeAllowHTTP {
		WarnPlainHTTP(log)
	}
}

// WarnAllowList logs the UNSAFE warning about WEBHOOKS_ALLOW_DESTINATIONS,
// whose parsed form is policy.
func WarnAllowList(log zerolog.Logger, policy egress.Policy) {
	log.Warn().Str("setting", SettingAllowDestinations).Str("allow", policy.String()).
		Msg("UNSAFE: WEBHOOKS_ALLOW_DESTINATIONS lets deliveries reach private addresses; never use it in production")
}

// WarnPlainHTTP logs the UNSAFE warning about WEBHOOKS_UNSAFE_ALLOW_HTTP.
func WarnPlainHTTP(log zerolog.Logger) {
	log.Warn().Str("setting", SettingAllowHTTP).
		Msg("UNSAFE: WEBHOOKS_UNSAFE_ALLOW_HTTP accepts plain-http destinations; payloads travel unencrypted")
}

// WarnDevKey logs the UNSAFE warning about the development key when it is
// the one in use: WEBHOOKS_DEV_MODE without WEBHOOKS_MASTER_KEY.
func (c Common) WarnDevKey(log zerolog.Logger) {
	if c.MasterKey == "" && c.DevMode {
		log.Warn().Str("setting", SettingDevMode).
			Msg("UNSAFE: WEBHOOKS_DEV_MODE without WEBHOOKS_MASTER_KEY: signing secrets are encrypted with a PUBLICLY KNOWN key; local use only")
	}
}

// ValidateMasterKey checks that WEBHOOKS_MASTER_KEY, when set, parses; the
// error is a *SettingError that never shows key material.
func (c Common) ValidateMasterKey() error {
	if c.MasterKey == "" {
		return nil
	}
	_, err := c.ParseKeyring()
	return err
}

// RequireMasterKey returns ErrNoMasterKey when neither WEBHOOKS_MASTER_KEY
// nor WEBHOOKS_DEV_MODE is set: for the commands that encrypt or decrypt
// signing secrets. It does not parse the key (ValidateMasterKey does).
func (c Common) RequireMasterKey() error {
	if c.MasterKey == "" && !c.DevMode {
		return ErrNoMasterKey
	}
	return nil
}

// ParseKeyring returns the master keyring, saying nothing: the key of
// WEBHOOKS_MASTER_KEY, or in dev mode only, the publicly known development
// key (which the caller has warned about once, with WarnDevKey).
func (c Common) ParseKeyring() (*secrets.Keyring, error) {
	if c.MasterKey != "" {
		k, err := secrets.ParseKeyring(c.MasterKey)
		if err != nil {
			return nil, Bad("WEBHOOKS_MASTER_KEY", "%w", err)
		}
		return k, nil
	}
	if err := c.RequireMasterKey(); err != nil {
		return nil, err
	}
	return secrets.DevKeyring(), nil
}

// Keyring returns the master keyring as ParseKeyring does, and warns
// (WarnDevKey) when it is the development key.
func (c Common) Keyring(log zerolog.Logger) (*secrets.Keyring, error) {
	k, err := c.ParseKeyring()
	if err == nil {
		c.WarnDevKey(log)
	}
	return k, err
}
