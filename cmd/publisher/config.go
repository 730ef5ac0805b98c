package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	appconfig "github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/ingest"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
)

// mode says which settings are required.
type mode int

const (
	modeServe mode = iota
	modePublish
)

// config is the environment, read once by loadConfig: the settings every
// command shares (config.Common: NATS_URL, STREAMS_*, WEBHOOKS_*, LOG_LEVEL)
// plus the publisher's own.
type config struct {
	appconfig.Common
	// LogStore names the delivery log that /v1/deliveries and /v1/status read.
	appconfig.LogStore
	// ListenAddr is the ingest API's address.
	ListenAddr string `envconfig:"PUBLISHER_LISTEN_ADDR" default:"127.0.0.1:8080"`
	// Tokens is the comma-separated list of accepted bearer tokens;
	// required in serve mode.
	Tokens string `envconfig:"PUBLISHER_TOKENS"`
	// MaxBodyBytes bounds one request body, in bytes.
	MaxBodyBytes int64 `envconfig:"PUBLISHER_MAX_BODY_BYTES" default:"1048576"`
	// AdminTokens enables the admin API (signing secrets) for these bearer
	// tokens, comma-separated; empty disables it.
	AdminTokens string `envconfig:"PUBLISHER_ADMIN_TOKENS"`
	// OpsAddr serves /metrics, /healthz and /readyz; empty disables it.
	OpsAddr string `envconfig:"PUBLISHER_OPS_ADDR" default:"127.0.0.1:9091"`
	// DownloadAddr serves the signed result downloads (GET /v1/downloads/…)
	// on a listener of its own: receivers reach it from the internet, the
	// ingest API stays internal. Empty disables it; it needs
	// WEBHOOKS_DOWNLOAD_KEY.
	DownloadAddr string `envconfig:"PUBLISHER_DOWNLOAD_ADDR"`
	// ConsoleEnabled serves the web console on ConsoleAddr; off by default.
	ConsoleEnabled bool `envconfig:"PUBLISHER_CONSOLE_ENABLED" default:"false"`
	// ConsoleAddr is the console's address (its own listener).
	ConsoleAddr string `envconfig:"PUBLISHER_CONSOLE_ADDR" default:"127.0.0.1:9092"`
	// InlineResultsLimit is the largest workflow rows inlined, in bytes.
	InlineResultsLimit int `envconfig:"PUBLISHER_INLINE_RESULTS_LIMIT" default:"262144"`

	mode         mode               // what Validate requires
	tokens       []string           // parsed Tokens
	adminTokens  []string           // parsed AdminTokens
	destinations egress.Policy      // parsed AllowDestinations
	urls         envelope.URLPolicy // from UnsafeAllowHTTP
}

// Validate checks every setting the mode uses and returns every problem at
// once, each naming its variable: the shared ones, the delivery log's, the
// limits and, to serve, the tokens, the listen addresses and the master
// key that the admin API needs.
func (c config) Validate() error {
	var p []error
	if c.MaxBodyBytes <= 0 {
		p = append(p, appconfig.Bad("PUBLISHER_MAX_BODY_BYTES", "got %d, want > 0", c.MaxBodyBytes))
	}
	if c.InlineResultsLimit <= 0 {
		p = append(p, appconfig.Bad("PUBLISHER_INLINE_RESULTS_LIMIT", "got %d, want > 0", c.InlineResultsLimit))
	}
	if c.mode == modeServe {
		p = append(p, c.serveProblems()...)
	}
	return appconfig.Check(append(p, c.Common.Validate(), c.LogStore.Validate())...)
}

// serveProblems checks the settings that only serve mode uses.
func (c config) serveProblems() []error {
	p := []error{
		appconfig.CheckAddr("PUBLISHER_LISTEN_ADDR", c.ListenAddr, false),
		appconfig.CheckAddr("PUBLISHER_OPS_ADDR", c.OpsAddr, true),
		appconfig.CheckAddr("PUBLISHER_DOWNLOAD_ADDR", c.DownloadAddr, true),
	}
	if c.ConsoleEnabled {
		p = append(p, appconfig.CheckAddr("PUBLISHER_CONSOLE_ADDR", c.ConsoleAddr, false))
	}
	if c.DownloadAddr != "" && c.DownloadKey == "" {
		p = append(p, appconfig.Bad("WEBHOOKS_DOWNLOAD_KEY", "is required because PUBLISHER_DOWNLOAD_ADDR is set (base64 of at least 32 random bytes)"))
	}
	tokens, adminTokens := splitTokens(c.Tokens), splitTokens(c.AdminTokens)
	if len(tokens) == 0 {
		p = append(p, appconfig.Bad("PUBLISHER_TOKENS", "is required to serve: a comma-separated list of bearer tokens that job services send as \"Authorization: Bearer <token>\""))
	} else if err := (ingest.Config{Tokens: tokens}).Validate(); err != nil {
		p = append(p, appconfig.Bad("PUBLISHER_TOKENS", "%w", err))
	}
	if len(adminTokens) > 0 {
		if err := (ingest.Config{Tokens: adminTokens}).Validate(); err != nil {
			p = append(p, appconfig.Bad("PUBLISHER_ADMIN_TOKENS", "%w", err))
		}
		// The admin API encrypts new signing secrets.
		p = append(p, c.ValidateMasterKey())
		if err := c.RequireMasterKey(); err != nil {
			p = append(p, fmt.Errorf("PUBLISHER_ADMIN_TOKENS is set, so the admin API needs the master key: %w", err))
		}
	}
	return p
}

// loadConfig reads and checks the environment for mode m; the error lists
// every problem (errors.Is(err, appconfig.ErrInvalid)).
func loadConfig(m mode) (config, error) {
	c := config{mode: m}
	if err := appconfig.Load(&c); err != nil {
		return config{}, err
	}
	c.tokens, c.adminTokens = splitTokens(c.Tokens), splitTokens(c.AdminTokens)
	c.destinations, c.urls, _ = c.Destinations() // checked by Load
	return c, nil
}

// publishConfig configures the Publisher. results is the results bucket;
// without it, workflow rows over the inline limit are refused.
func (c config) publishConfig(results jetstream.ObjectStore) publish.Config {
	return publish.Config{Streams: c.Streams(), URLs: c.urls, Destinations: c.destinations,
		Results: results, InlineResultsLimit: c.InlineResultsLimit}
}

// ingestConfig configures the HTTP handler.
func (c config) ingestConfig(log *zerolog.Logger) ingest.Config {
	return ingest.Config{Tokens: c.tokens, MaxBodyBytes: c.MaxBodyBytes, Logger: log}
}

// newLogger logs JSON lines to w at the configured level.
func newLogger(w io.Writer, c config) zerolog.Logger {
	log, _ := c.Logger(w, "publisher") // the level was checked by loadConfig
	return log
}

// warnUnsafe says loudly which unsafe settings are on.
func warnUnsafe(log zerolog.Logger, c config) { c.WarnUnsafe(log, c.destinations) }

// splitTokens parses a comma-separated token list.
func splitTokens(list string) []string {
	var out []string
	for _, t := range strings.Split(list, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}
