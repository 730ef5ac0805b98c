// Package jstest is what the pipeline's tests share: real in-process
// JetStream servers (a random loopback port and a store in t.TempDir(),
// shut down by t.Cleanup), the pipeline's streams on them, waiting on a
// condition with a deadline, and a concurrency-safe log sink. It is
// imported only from _test files.
package jstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/embedded"
)

// Server starts a JetStream server for the test and returns it. The
// server is shut down when the test ends.
func Server(t testing.TB) *server.Server {
	t.Helper()
	return ServerWith(t, embedded.Config{})
}

// ServerWith starts a JetStream server with cfg's mappings and sync
// setting on a random port, its store in t.TempDir(); it is shut down when
// the test ends.
func ServerWith(t testing.TB, cfg embedded.Config) *server.Server {
	t.Helper()
	cfg.Port, cfg.StoreDir = -1, t.TempDir()
	s, err := embedded.Start(cfg)
	if err != nil {
		t.Fatalf("jstest: %v", err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// Connect opens a client connection to s, closed when the test ends.
func Connect(t testing.TB, s *server.Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("jstest: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jstest: jetstream: %v", err)
	}
	return nc, js
}

// Context returns a context cancelled when the test ends or after d.
func Context(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Eventually polls cond every 10 ms until it returns true or d passes, then
// fails the test with msg. It is how tests wait: on a condition, never a sleep.
func Eventually(t testing.TB, d time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting: "+msg, append([]any{d}, args...)...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
