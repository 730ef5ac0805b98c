// Package natsconn opens the processes' connection to NATS: to the server
// or cluster named by NATS_URL (with optional credentials file and TLS), or,
// when none is named, to an embedded JetStream server started in-process
// on 127.0.0.1:4222 with its data under ./data, for local use.
package natsconn

import (
	"errors"
	"fmt"
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
	// EmbeddedPort is the embedded server's port when URL is empty.
	// Defaults to 4222.
	EmbeddedPort int `envconfig:"NATS_EMBEDDED_PORT" default:"4222"`
	// EmbeddedStoreDir is the embedded server's JetStream directory.
	// Defaults to ./data.
	EmbeddedStoreDir string `envconfig:"NATS_EMBEDDED_STORE_DIR" default:"./data"`
	// EmbeddedSyncAlways makes the embedded server fsync every write.
	EmbeddedSyncAlways bool `envconfig:"NATS_EMBEDDED_SYNC_ALWAYS" default:"false"`
}

// Conn is an open connection plus the embedded server, if one was started.
type Conn struct {
	NC       *nats.Conn
	JS       jetstream.JetStream
	Embedded *server.Server
}

// Close drains the connection and stops the embedded server.
func (c *Conn) Close() {
	if c.NC != nil {
		_ = c.NC.Drain()
		for i := 0; i < 100 && !c.NC.IsClosed(); i++ {
			time.Sleep(20 * time.Millisecond)
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
	out := &Conn{}
	url := cfg.URL
	if url == "" {
		s, err := embedded.Start(embedded.Config{Port: cfg.EmbeddedPort, StoreDir: cfg.EmbeddedStoreDir, SyncAlways: cfg.EmbeddedSyncAlways})
		if err != nil {
			return nil, fmt.Errorf("natsconn: no NATS_URL set, and the embedded server did not start (is port %d taken? set NATS_URL to join a running server): %w", cfg.EmbeddedPort, err)
		}
		out.Embedded = s
		url = s.ClientURL()
		log.Warn().Str("url", url).Str("store_dir", cfg.EmbeddedStoreDir).
			Msg("NATS_URL not set: running an embedded single-node JetStream server for LOCAL USE; production uses a NATS cluster")
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn().Err(err).Msg("disconnected from NATS") }),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info().Str("url", nc.ConnectedUrlRedacted()).Msg("reconnected to NATS") }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { log.Warn().Err(err).Msg("NATS error") }),
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.CAFile != "" {
		opts = append(opts, nats.RootCAs(cfg.CAFile))
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		out.Close()
		return nil, errors.New("natsconn: NATS_CERT and NATS_KEY must be set together")
	}
	if cfg.CertFile != "" {
		opts = append(opts, nats.ClientCert(cfg.CertFile, cfg.KeyFile))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		out.Close()
		return nil, fmt.Errorf("natsconn: connect to %s: %w", url, err)
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
