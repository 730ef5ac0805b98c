package jstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// Pipeline starts a server (see Server), connects to it and creates the
// pipeline's streams, consumers and buckets with sc (zero fields default).
func Pipeline(t testing.TB, sc streams.Config) (*server.Server, jetstream.JetStream, *streams.Resources) {
	t.Helper()
	s := Server(t)
	_, js := Connect(t, s)
	res, err := streams.Ensure(Context(t, 30*time.Second), js, sc)
	if err != nil {
		t.Fatalf("jstest: ensure streams: %v", err)
	}
	return s, js, res
}
