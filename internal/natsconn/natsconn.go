// Package natsconn opens the processes' connection to NATS: to the server
// or cluster named by NATS_URL (with optional credentials file and TLS), or,
// when none is named, to an embedded JetStream server started in-process
// on 127.0.0.1:4222 with its data under ./data, for local use.
package natsconn

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/embedded"
)

// Config is how a process reaches NATS. The envconfig tags are read by the
// commands with the prefix they choose (e.g. NATS_URL).
type Config struct {
	// URL is a comma-separated list of server URLs. Empty starts an
	// embedded server (see EmbeddedPort and EmbeddedStoreDir).
	URL string `envconfig:"NATS_URL"`
	// CredsFile is a NATS credentials (.creds) file. Optional.
	CredsFile string `envconfig:"NATS_CREDS"`
	// CAFile, CertFile and KeyFile configure TLS. Optional; CertFile and
	// KeyFile go together.
	CAFile   string `envconfig:"NATS_CA"`
	CertFile string `envconfig:"NATS_CERT"`
	KeyFile  string `envconfig:"NATS_KEY"`
	// EmbeddedPort is the embedded server's port when URL is empty; -1
	// picks a free port. Defaults to 4222. A port in use fails Open at
	// once, naming NATS_EMBEDDED_PORT, before the server creates its store.
	EmbeddedPort int `envconfig:"NATS_EMBEDDED_PORT" default:"4222"`
	// EmbeddedStoreDir is the embedded server's JetStream directory.
	// Defaults to ./data.
	EmbeddedStoreDir string `envconfig:"NATS_EMBEDDED_STORE_DIR" default:"./data"`
	// EmbeddedSyncAlways makes the embedded server fsync every write.
	EmbeddedSyncAlways bool `envconfig:"NATS_EMBEDDED_SYNC_ALWAYS" default:"false"`
	// EmbeddedMappings are the embedded server's subject mappings (the
	// deliver partitions'); set by the caller from the streams config, not
	// read from the environment.
	EmbeddedMappings map[string]string `ignored:"true"`
}

// Validate checks the settings before anything connects or starts, and
// returns every problem (joined), each naming its variable: each NATS_URL
// entry is a nats, tls, ws or wss URL with a host; NATS_CERT and NATS_KEY
// go together; the files named exist; NATS_EMBEDDED_PORT is -1 (any free
// port), 0 (the default) or 1..65535. Errors never show a URL's password.
func (c Config) Validate() error {
	var problems []error
	for i, entry := range strings.Split(c.URL, ",") {
		if err := checkURL(strings.TrimSpace(entry)); err != nil {
			problems = append(problems, fmt.Errorf("NATS_URL: entry %d: %w", i+1, err))
		}
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		problems = append(problems, errors.New("NATS_CERT, NATS_KEY: set both (a client certificate and its key) or neither"))
	}
	for _, f := range []struct{ name, path string }{
		{"NATS_CREDS", c.CredsFile}, {"NATS_CA", c.CAFile}, {"NATS_CERT", c.CertFile}, {"NATS_KEY", c.KeyFile},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", f.name, err))
		}
	}
	if c.EmbeddedPort < -1 || c.EmbeddedPort > 65535 {
		problems = append(problems, fmt.Errorf("NATS_EMBEDDED_PORT: got %d, want 1..65535, 0 for %d, or -1 for any free port", c.EmbeddedPort, embedded.DefaultPort))
	}
	return errors.Join(problems...)
}

// checkURL checks one NATS_URL entry as nats.Connect reads it (no scheme
// means nats://); an empty entry is skipped, as nats.Connect skips it.
func checkURL(entry string) error {
	if entry == "" {
		return nil
	}
	if !strings.Contains(entry, "://") {
		entry = "nats://" + entry
	}
	u, err := url.Parse(entry)
	if err != nil {
		return errors.New("not a URL (want nats://host:port)")
	}
	switch {
	case u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss":
		return fmt.Errorf("scheme %q, want nats, tls, ws or wss", u.Scheme)
	case u.Hostname() == "":
		return fmt.Errorf("%s names no host", u.Redacted())
	}
	return nil
}

// Conn is an open connection plus the embedded server, if one was started.
type Conn struct {
	NC       *nats.Conn
	JS       jetstream.JetStream
	Embedded *server.Server

	closing atomic.Bool   // set by Close: the disconnect that follows is deliberate
	closed  chan struct{} // closed by the connection's closed handler
}

// DrainTimeout bounds how long Close waits for the connection to drain
// (in-flight messages handled, pending publishes flushed) before it closes
// it anyway.
const DrainTimeout = 2 * time.Second

// Close drains the connection, waiting at most DrainTimeout, and stops the
// embedded server. The disconnect it causes is logged at debug level: a
// deliberate close is not news.
func (c *Conn) Close() {
	c.closing.Store(true)
	if c.NC != nil {
		if err := c.NC.Drain(); err == nil && c.closed != nil {
			select {
			case <-c.closed:
			case <-time.After(DrainTimeout):
			}
		}
		c.NC.Close()
	}
	if c.Embedded != nil {
		c.Embedded.Shutdown()
		c.Embedded.WaitForShutdown()
	}
}

// Open connects as described by cfg; name identifies the client to the
// server. Connection state changes are logged. With an empty URL it starts
// the embedded server and says so.
func Open(cfg Config, name string, log zerolog.Logger) (*Conn, error) {
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("natsconn: NATS_CERT and NATS_KEY must be set together")
	}
	out := &Conn{closed: make(chan struct{})}
	servers := cfg.URL
	if servers == "" {
		s, err := embedded.Start(embedded.Config{Port: cfg.EmbeddedPort, StoreDir: cfg.EmbeddedStoreDir, SyncAlways: cfg.EmbeddedSyncAlways, Mappings: cfg.EmbeddedMappings})
		if errors.Is(err, embedded.ErrCannotListen) {
			return nil, fmt.Errorf("natsconn: NATS_EMBEDDED_PORT=%d: %w; set NATS_EMBEDDED_PORT to a free port (-1 picks one), or NATS_URL to use a running NATS server", cfg.EmbeddedPort, err)
		}
		if err != nil {
			return nil, fmt.Errorf("natsconn: no NATS_URL set, and the embedded server did not start (set NATS_URL to join a running server): %w", err)
		}
		out.Embedded = s
		servers = s.ClientURL()
		log.Warn().Str("url", servers).Str("store_dir", cfg.EmbeddedStoreDir).
			Msg("NATS_URL not set: running an embedded single-node JetStream server for LOCAL USE; production uses a NATS cluster")
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { out.logDisconnect(log, err) }),
		nats.ClosedHandler(func(*nats.Conn) { close(out.closed) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info().Str("url", nc.ConnectedUrlRedacted()).Msg("reconnected to NATS") }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { log.Warn().Err(err).Msg("NATS error") }),
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.CAFile != "" {
		opts = append(opts, nats.RootCAs(cfg.CAFile))
	}
	if cfg.CertFile != "" {
		opts = append(opts, nats.ClientCert(cfg.CertFile, cfg.KeyFile))
	}
	nc, err := nats.Connect(servers, opts...)
	if err != nil {
		out.Close()
		return nil, fmt.Errorf("natsconn: connect to %s: %w", redact(servers), err)
	}
	out.NC = nc
	js, err := jetstream.New(nc)
	if err != nil {
		out.Close()
		return nil, fmt.Errorf("natsconn: jetstream: %w", err)
	}
	out.JS = js
	return out, nil
}

// logDisconnect logs a lost connection as a warning, and the disconnect
// that Close causes at debug level.
func (c *Conn) logDisconnect(log zerolog.Logger, err error) {
	if c.closing.Load() {
		log.Debug().Msg("disconnected from NATS: connection closed")
		return
	}
	log.Warn().Err(err).Msg("disconnected from NATS")
}

// redact returns the server list with any password replaced, for errors.
func redact(servers string) string {
	parts := strings.Split(servers, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}
