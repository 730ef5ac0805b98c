// Package config owns the environment variables that every command of the
// pipeline reads the same way: how to reach NATS, the stream settings, the
// destination policy, the secrets master key, and logging. Each command
// reads them once, at start-up, with Load; packages below the commands take
// plain structs and never read the environment.
package config

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/download"
	"github.com/sixtyfour-oss/webhooks/internal/natsconn"
	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// ErrNoMasterKey is returned when secrets are needed, WEBHOOKS_MASTER_KEY
// is not set, and WEBHOOKS_DEV_MODE is off.
var ErrNoMasterKey = errors.New("WEBHOOKS_MASTER_KEY is not set (set it to kid:base64-32-byte-key, or WEBHOOKS_DEV_MODE=true for local use only)")

// Common holds the shared settings. The tags name the variables; the
// README's configuration table lists them.
type Common struct {
	natsconn.Config

	// Replicas of streams, consumer and buckets (1 local, 3 in production).
	Replicas int `envconfig:"STREAMS_REPLICAS" default:"1"`
	// AckWait of the deliverer consumer.
	AckWait time.Duration `envconfig:"STREAMS_ACK_WAIT" default:"30s"`
	// MaxAckPending of the deliverer consumer.
	MaxAckPending int `envconfig:"STREAMS_MAX_ACK_PENDING" default:"20000"`
	// DuplicateWindow is the publish dedupe window.
	DuplicateWindow time.Duration `envconfig:"STREAMS_DUPLICATE_WINDOW" default:"2m"`
	// UndeliveredMaxAge is how long undelivered events are kept.
	UndeliveredMaxAge time.Duration `envconfig:"STREAMS_UNDELIVERED_MAX_AGE" default:"336h"`
	// AttemptsMaxAge is how long attempt records wait on WEBHOOKS_ATTEMPTS
	// for the log writer: the longest log-store outage survived.
	AttemptsMaxAge time.Duration `envconfig:"STREAMS_ATTEMPTS_MAX_AGE" default:"24h"`

	// AllowDestinations is the UNSAFE allow-list of private destinations
	// (CIDRs, IPs, host names), for local receivers and tests.
	AllowDestinations string `envconfig:"WEBHOOKS_ALLOW_DESTINATIONS"`
	// UnsafeAllowHTTP accepts plain-http destination URLs (UNSAFE).
	UnsafeAllowHTTP bool `envconfig:"WEBHOOKS_UNSAFE_ALLOW_HTTP" default:"false"`

	// MasterKey encrypts signing secrets at rest: "kid:base64key[,kid:base64key]",
	// the first encrypts, all decrypt.
	MasterKey string `envconfig:"WEBHOOKS_MASTER_KEY"`
	// DevMode allows running without a master key, with a publicly known
	// key instead (LOCAL USE ONLY).
	DevMode bool `envconfig:"WEBHOOKS_DEV_MODE" default:"false"`

	// LogLevel is debug, info, warn or error.
	LogLevel string `envconfig:"LOG_LEVEL" default:"info"`

	// DownloadKey signs (deliverers) and verifies (download server) the
	// results_download_url links: base64 of at least 32 random bytes, the
	// same everywhere. Empty: no links are signed or served.
	DownloadKey string `envconfig:"WEBHOOKS_DOWNLOAD_KEY"`
	// DownloadBaseURL is the public base URL of the download server.
	DownloadBaseURL string `envconfig:"WEBHOOKS_DOWNLOAD_BASE_URL"`
	// DownloadTTL is how long a signed download URL is valid.
	DownloadTTL time.Duration `envconfig:"WEBHOOKS_DOWNLOAD_TTL" default:"900s"`
}

// Load reads the environment into dst, a struct that embeds Common (or is
// *Common), then calls its Validate method (Common's, unless dst has its
// own). Errors name the variable.
func Load(dst any) error {
	if err := envconfig.Process("", dst); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if v, ok := dst.(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}

// Validate checks the ranges envconfig cannot; errors name the variable.
func (c Common) Validate() error {
	switch {
	case c.Replicas < 1 || c.Replicas > 5:
		return fmt.Errorf("configuration: STREAMS_REPLICAS = %d, want 1..5", c.Replicas)
	case c.AckWait < time.Second:
		return fmt.Errorf("configuration: STREAMS_ACK_WAIT = %v, want >= 1s", c.AckWait)
	case c.MaxAckPending < 1:
		return fmt.Errorf("configuration: STREAMS_MAX_ACK_PENDING = %d, want >= 1", c.MaxAckPending)
	case c.DuplicateWindow < time.Second:
		return fmt.Errorf("configuration: STREAMS_DUPLICATE_WINDOW = %v, want >= 1s", c.DuplicateWindow)
	case c.UndeliveredMaxAge < time.Hour:
		return fmt.Errorf("configuration: STREAMS_UNDELIVERED_MAX_AGE = %v, want >= 1h", c.UndeliveredMaxAge)
	case c.AttemptsMaxAge < time.Minute:
		return fmt.Errorf("configuration: STREAMS_ATTEMPTS_MAX_AGE = %v, want >= 1m", c.AttemptsMaxAge)
	}
	if _, err := c.Logger(io.Discard, ""); err != nil {
		return err
	}
	if _, _, err := c.Destinations(); err != nil {
		return err
	}
	if _, _, err := c.DownloadSigner(); err != nil {
		return err
	}
	return c.Streams().Validate()
}

// Logger returns a JSON logger writing to w at LOG_LEVEL.
func (c Common) Logger(w io.Writer, component string) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(strings.ToLower(c.LogLevel))
	if err != nil || c.LogLevel == "" {
		return zerolog.Nop(), fmt.Errorf("configuration: LOG_LEVEL=%q, want debug, info, warn or error", c.LogLevel)
	}
	return zerolog.New(w).Level(level).With().Timestamp().Str("component", component).Logger(), nil
}

// Streams returns the streams configuration.
func (c Common) Streams() streams.Config {
	return streams.Config{
		Replicas: c.Replicas, AckWait: c.AckWait, MaxAckPending: c.MaxAckPending,
		DuplicateWindow: c.DuplicateWindow, UndeliveredMaxAge: c.UndeliveredMaxAge,
		AttemptsMaxAge: c.AttemptsMaxAge,
	}.WithDefaults()
}

// DownloadSigner returns the signer of download links and true, or false
// when WEBHOOKS_DOWNLOAD_KEY is not set (no links are signed or served).
func (c Common) DownloadSigner() (download.Signer, bool, error) {
	if c.DownloadKey == "" {
		return download.Signer{}, false, nil
	}
	key, err := download.ParseKey(c.DownloadKey)
	if err != nil {
		return download.Signer{}, false, fmt.Errorf("configuration: WEBHOOKS_DOWNLOAD_KEY: %w", err)
	}
	s := download.Signer{Key: key, BaseURL: c.DownloadBaseURL, TTL: c.DownloadTTL}
	if err := s.Validate(); err != nil {
		return download.Signer{}, false, fmt.Errorf("configuration: WEBHOOKS_DOWNLOAD_BASE_URL, WEBHOOKS_DOWNLOAD_TTL: %w", err)
	}
	return s, true, nil
}

// Destinations parses the destination address policy and the URL policy.
func (c Common) Destinations() (egress.Policy, envelope.URLPolicy, error) {
	policy, err := egress.ParseAllowList(c.AllowDestinations)
	if err != nil {
		return egress.Policy{}, envelope.URLPolicy{}, fmt.Errorf("configuration: WEBHOOKS_ALLOW_DESTINATIONS: %w", err)
	}
	return policy, envelope.URLPolicy{AllowHTTP: c.UnsafeAllowHTTP}, nil
}

// WarnUnsafe says loudly, at start-up, which unsafe settings are on: an
// allow-list that makes private addresses reachable, plain http.
func (c Common) WarnUnsafe(log zerolog.Logger, policy egress.Policy) {
	if policy.IsUnsafe() {
		log.Warn().Str("allow", policy.String()).
			Msg("UNSAFE: WEBHOOKS_ALLOW_DESTINATIONS lets deliveries reach private addresses; never use it in production")
	}
	if c.UnsafeAllowHTTP {
		log.Warn().Msg("UNSAFE: WEBHOOKS_UNSAFE_ALLOW_HTTP accepts plain-http destinations; payloads travel unencrypted")
	}
}

// Keyring returns the master keyring: WEBHOOKS_MASTER_KEY, or in dev mode
// only, the publicly known development key, said loudly.
func (c Common) Keyring(log zerolog.Logger) (*secrets.Keyring, error) {
	if c.MasterKey != "" {
		k, err := secrets.ParseKeyring(c.MasterKey)
		if err != nil {
			return nil, fmt.Errorf("configuration: WEBHOOKS_MASTER_KEY: %w", err)
		}
		return k, nil
	}
	if !c.DevMode {
		return nil, ErrNoMasterKey
	}
	log.Warn().Msg("UNSAFE: WEBHOOKS_DEV_MODE without WEBHOOKS_MASTER_KEY: signing secrets are encrypted with a PUBLICLY KNOWN key; local use only")
	return secrets.DevKeyring(), nil
}
