package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/natsconn"
	"github.com/sixtyfour-oss/webhooks/internal/undelivered"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// ErrNoNATSURL is returned when NATS_URL is not set: unlike the services,
// webhooksctl never starts an embedded server, which would be empty.
var ErrNoNATSURL = errors.New("set NATS_URL to the NATS server(s) the pipeline uses (webhooksctl does not start an embedded server)")

// session is an open connection with the settings it was made with.
type session struct {
	settings config.Common
	log      zerolog.Logger
	logOut   *gatedWriter
	conn     *natsconn.Conn
	js       jetstream.JetStream
	streams  streams.Config
}

// settings reads the environment and makes the logger (JSON on stderr,
// through a gate that the session closes).
func (c *cli) settings() (config.Common, zerolog.Logger, *gatedWriter, error) {
	var s config.Common
	if err := config.Load(&s); err != nil {
		return s, zerolog.Nop(), nil, err
	}
	gate := &gatedWriter{w: c.errOut}
	log, err := s.Logger(gate, "webhooksctl")
	if err != nil {
		return s, zerolog.Nop(), nil, err
	}
	return s, log, gate, nil
}

// connect opens the NATS connection named by NATS_URL. The caller closes it.
func (c *cli) connect() (*session, error) {
	s, log, gate, err := c.settings()
	if err != nil {
		return nil, err
	}
	return c.connectWith(s, log, gate)
}

// openFiltered turns the filter flags into a filter, then connects; the
// caller closes the session.
func (c *cli) openFiltered(ff *filterFlags) (undelivered.Filter, *session, error) {
	f, err := ff.filter(c.now())
	if err != nil {
		return undelivered.Filter{}, nil, err
	}
	s, err := c.connect()
	if err != nil {
		return undelivered.Filter{}, nil, err
	}
	return f, s, nil
}

// connectWith opens the connection for already loaded settings.
func (c *cli) connectWith(s config.Common, log zerolog.Logger, gate *gatedWriter) (*session, error) {
	if strings.TrimSpace(s.URL) == "" {
		return nil, ErrNoNATSURL
	}
	conn, err := natsconn.Open(s.NATS(), "webhooksctl", log)
	if err != nil {
		return nil, err
	}
	return &session{settings: s, log: log, logOut: gate, conn: conn, js: conn.JS, streams: s.Streams()}, nil
}

// close drains the connection. The log is closed first: the connection's
// callbacks run asynchronously, and the disconnect that closing causes is
// not news to the operator.
func (s *session) close() {
	s.logOut.close()
	s.conn.Close()
}

// gatedWriter serializes writes to w and drops them once closed.
type gatedWriter struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

// Write writes p to the underlying writer unless the gate is closed.
func (g *gatedWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return len(p), nil
	}
	return g.w.Write(p)
}

// close makes every later Write a no-op.
func (g *gatedWriter) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// explain adds a hint to errors that mean the pipeline's streams or bucket
// do not exist yet: webhooksctl never creates them.
func explain(err error) error {
	if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) {
		return fmt.Errorf("%w (the publisher and deliverer create the streams and buckets when they start; is this the right NATS_URL?)", err)
	}
	return err
}
