// Package config owns the environment variables that every command of the
// pipeline reads the same way: how to reach NATS, the stream settings, the
// destination policy, the secrets master key, and logging. Each command
// reads them once, at start-up, with Load, which checks every setting
// before anything starts and reports every problem at once (Problems,
// ErrInvalid: exit status 2); packages below the commands take plain
// structs and never read the environment.
package config

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/download"
	"github.com/sixtyfour-oss/webhooks/internal/natsconn"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

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
	// Partitions is the number of deliver partitions; above 1 every NATS
	// server needs the subject mapping `webhooksctl partitions mapping` prints.
	Partitions int `envconfig:"STREAMS_PARTITIONS" default:"1"`

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

// Validate checks every shared setting that envconfig cannot (ranges,
// syntax of lists, keys and URLs, how to reach NATS) and returns every
// problem at once, each naming its variable; nil when all are good. The
// master key is checked by the commands that use it (ValidateMasterKey,
// RequireMasterKey).
func (c Common) Validate() error {
	return Check(append(c.streamProblems(),
		c.Config.Validate(),
		c.logLevelProblem(),
		c.destinationsProblem(),
		c.downloadProblem(),
	)...)
}

// streamProblems checks the STREAMS_* settings.
func (c Common) streamProblems() []error {
	var p []error
	if c.Replicas < 1 || c.Replicas > 5 {
		p = append(p, Bad("STREAMS_REPLICAS", "got %d, want 1..5", c.Replicas))
	}
	if c.AckWait < time.Second {
		p = append(p, Bad("STREAMS_ACK_WAIT", "got %v, want >= 1s", c.AckWait))
	}
	if c.MaxAckPending < 1 {
		p = append(p, Bad("STREAMS_MAX_ACK_PENDING", "got %d, want >= 1", c.MaxAckPending))
	}
	if c.DuplicateWindow < time.Second {
		p = append(p, Bad("STREAMS_DUPLICATE_WINDOW", "got %v, want >= 1s", c.DuplicateWindow))
	}
	if c.UndeliveredMaxAge < time.Hour {
		p = append(p, Bad("STREAMS_UNDELIVERED_MAX_AGE", "got %v, want >= 1h", c.UndeliveredMaxAge))
	}
	if c.AttemptsMaxAge < time.Minute {
		p = append(p, Bad("STREAMS_ATTEMPTS_MAX_AGE", "got %v, want >= 1m", c.AttemptsMaxAge))
	}
	if c.Partitions < 1 || c.Partitions > streams.MaxPartitions {
		p = append(p, Bad("STREAMS_PARTITIONS", "got %d, want 1..%d", c.Partitions, streams.MaxPartitions))
	}
	if len(p) == 0 {
		if err := c.Streams().Validate(); err != nil {
			p = append(p, fmt.Errorf("STREAMS_* settings: %w", err))
		}
	}
	return p
}

// logLevelProblem checks LOG_LEVEL.
func (c Common) logLevelProblem() error {
	_, err := c.Logger(io.Discard, "")
	return err
}

// destinationsProblem checks WEBHOOKS_ALLOW_DESTINATIONS.
func (c Common) destinationsProblem() error {
	_, _, err := c.Destinations()
	return err
}

// downloadProblem checks WEBHOOKS_DOWNLOAD_KEY, WEBHOOKS_DOWNLOAD_BASE_URL
// and WEBHOOKS_DOWNLOAD_TTL.
func (c Common) downloadProblem() error {
	_, _, err := c.DownloadSigner()
	if c.DownloadTTL >= 0 {
		return err
	}
	var se *SettingError
	if errors.As(err, &se) && se.Name == "WEBHOOKS_DOWNLOAD_TTL" {
		err = nil // said below, whether or not a key is set
	}
	return errors.Join(err, Bad("WEBHOOKS_DOWNLOAD_TTL", "got %v, want >= 0", c.DownloadTTL))
}

// Logger returns a JSON logger writing to w at LOG_LEVEL.
func (c Common) Logger(w io.Writer, component string) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(strings.ToLower(c.LogLevel))
	if err != nil || c.LogLevel == "" {
		return zerolog.Nop(), Bad("LOG_LEVEL", "got %q, want debug, info, warn or error", c.LogLevel)
	}
	return zerolog.New(w).Level(level).With().Timestamp().Str("component", component).Logger(), nil
}

// NATS returns the connection settings, the embedded server (used when
// NATS_URL is empty) holding the partition mapping of STREAMS_PARTITIONS.
func (c Common) NATS() natsconn.Config {
	n := c.Config
	n.EmbeddedMappings = c.Streams().Mappings()
	return n
}

// Streams returns the streams configuration.
func (c Common) Streams() streams.Config {
	return streams.Config{
		Replicas: c.Replicas, AckWait: c.AckWait, MaxAckPending: c.MaxAckPending,
		DuplicateWindow: c.DuplicateWindow, UndeliveredMaxAge: c.UndeliveredMaxAge,
		AttemptsMaxAge: c.AttemptsMaxAge, Partitions: c.Partitions,
	}.WithDefaults()
}

// DownloadSigner returns the signer of download links and true, or false
// when WEBHOOKS_DOWNLOAD_KEY is not set (no links are signed or served).
// Errors are *SettingError naming the variable.
func (c Common) DownloadSigner() (download.Signer, bool, error) {
	if c.DownloadKey == "" {
		return download.Signer{}, false, nil
	}
	key, err := download.ParseKey(c.DownloadKey)
	if err != nil {
		return download.Signer{}, false, Bad("WEBHOOKS_DOWNLOAD_KEY", "%w", err)
	}
	s := download.Signer{Key: key, BaseURL: c.DownloadBaseURL, TTL: c.DownloadTTL}
	if err := s.Validate(); err != nil {
		name := "WEBHOOKS_DOWNLOAD_BASE_URL"
		if c.DownloadTTL < 0 {
			name = "WEBHOOKS_DOWNLOAD_TTL"
		}
		return download.Signer{}, false, Bad(name, "%w (WEBHOOKS_DOWNLOAD_KEY is set, so links are signed)", err)
	}
	return s, true, nil
}

// Destinations parses the destination address policy and the URL policy.
// Errors are *SettingError naming WEBHOOKS_ALLOW_DESTINATIONS.
func (c Common) Destinations() (egress.Policy, envelope.URLPolicy, error) {
	policy, err := egress.ParseAllowList(c.AllowDestinations)
	if err != nil {
		return egress.Policy{}, envelope.URLPolicy{}, Bad("WEBHOOKS_ALLOW_DESTINATIONS", "%w", err)
	}
	return policy, envelope.URLPolicy{AllowHTTP: c.UnsafeAllowHTTP}, nil
}
