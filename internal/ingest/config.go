package ingest

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/metrics"

	"github.com/rs/zerolog"
)

// DefaultMaxBodyBytes is the largest request body accepted when
// Config.MaxBodyBytes is zero: 1 MiB, the WEBHOOKS stream's default
// message size limit.
const DefaultMaxBodyBytes int64 = 1 << 20

// ErrInvalidConfig wraps every Config validation error.
var ErrInvalidConfig = errors.New("invalid ingest config")

// Config configures the ingest handler. Zero fields take their defaults,
// except Tokens, which is required.
type Config struct {
	// Tokens are the bearer tokens accepted in the Authorization header.
	// Required: at least one, none empty or containing whitespace. They
	// are compared in constant time and never logged.
	Tokens []string
	// MaxBodyBytes bounds a request body, in bytes; a larger body is
	// answered 413. Defaults to DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Metrics counts publishes by result; nil counts nothing.
	Metrics *metrics.Publisher
	// Logger receives one line per request. Defaults to a no-op logger.
	Logger *zerolog.Logger
	// Now is the clock; it stamps created_at and times requests. Defaults
	// to time.Now.
	Now func() time.Time
}

// Validate checks c; errors wrap ErrInvalidConfig and name the field.
func (c Config) Validate() error {
	if len(c.Tokens) == 0 {
		return fmt.Errorf("%w: Tokens is required (at least one bearer token)", ErrInvalidConfig)
	}
	for i, t := range c.Tokens {
		if t == "" || strings.IndexFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			return fmt.Errorf("%w: Tokens[%d] is empty or contains whitespace or a control character", ErrInvalidConfig, i)
		}
	}
	if c.MaxBodyBytes < 0 {
		return fmt.Errorf("%w: MaxBodyBytes = %d, want > 0 (or 0 for the default %d)", ErrInvalidConfig, c.MaxBodyBytes, DefaultMaxBodyBytes)
	}
	return nil
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Logger == nil {
		nop := zerolog.Nop()
		c.Logger = &nop
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
