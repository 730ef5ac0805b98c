package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/embedded"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// names lists the consumers of stream.
func names(t *testing.T, ctx context.Context, js jetstream.JetStream, stream string) []string {
	t.Helper()
	got, err := consumerNames(ctx, js, stream)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	return got
}

// TestQuickstartOwnConsumers runs the demo against a server (NATS_URL): it
// consumes on consumers of its own, so a deliverer started against the same
// server, which creates the default consumer, fails at start-up instead of
// sharing the work queue and taking the quickstart's events.
func TestQuickstartOwnConsumers(t *testing.T) {
	s := jstest.Server(t)
	_, js := jstest.Connect(t, s)
	ctx := jstest.Context(t, 60*time.Second)
	t.Setenv("NATS_URL", s.ClientURL())
	var out strings.Builder
	if err := runWith(ctx, append(freePorts, "-exit", "-data", t.TempDir(), "-schedule", fast), &out, standardDefaults()); err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out.String())
	}
	sc := streams.Config{}.WithDefaults()
	if got, want := names(t, ctx, js, sc.DeliverStream), []string{ownConsumer, ownWaiterConsumer}; !slices.Equal(got, want) {
		t.Errorf("consumers on %s = %q, want the quickstart's own %q", sc.DeliverStream, got, want)
	}
	if got, want := names(t, ctx, js, sc.AttemptsStream), []string{ownLogConsumer}; !slices.Equal(got, want) {
		t.Errorf("consumers on %s = %q, want %q", sc.AttemptsStream, got, want)
	}

	// What cmd/deliverer and publisher serve do at start-up.
	_, err := streams.Ensure(ctx, js, streams.Config{})
	if !errors.Is(err, streams.ErrConsumerConflict) || !strings.Contains(err.Error(), ownConsumer) {
		t.Errorf("a deliverer's streams.Ensure next to the quickstart: %v, want streams.ErrConsumerConflict naming %s", err, ownConsumer)
	}
	if _, err := js.Consumer(ctx, sc.DeliverStream, sc.Consumer); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("consumer %s: %v, want none", sc.Consumer, err)
	}
}

// TestQuickstartRefusesForeignConsumers runs the demo against a server
// whose deliver stream has the default consumers (a deliverer's): it stops
// with an error and publishes nothing.
func TestQuickstartRefusesForeignConsumers(t *testing.T) {
	s, _, res := jstest.Pipeline(t, streams.Config{})
	ctx := jstest.Context(t, 30*time.Second)
	t.Setenv("NATS_URL", s.ClientURL())
	err := runWith(ctx, append(freePorts, "-exit", "-data", t.TempDir()), &strings.Builder{}, standardDefaults())
	if !errors.Is(err, errForeignConsumers) {
		t.Fatalf("error = %v, want errForeignConsumers", err)
	}
	info, err := res.Deliver.Info(ctx)
	if err != nil || info.State.Msgs != 0 {
		t.Errorf("WEBHOOKS holds %d messages (%v), want none published", info.State.Msgs, err)
	}
	if _, err := res.Secrets.Get(ctx, demoOrg); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("secret of %s: %v, want none created", demoOrg, err)
	}
}

// TestQuickstartBroker runs -broker on a data directory a full quickstart
// used: it removes the quickstart's consumers, creates the default ones
// (so a deliverer can start against it), and holds the directory; a full
// quickstart on it afterwards refuses the default consumers.
func TestQuickstartBroker(t *testing.T) {
	t.Setenv("NATS_URL", "")
	dir := t.TempDir()
	srv, err := embedded.Start(embedded.Config{Port: -1, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, js := jstest.Connect(t, srv)
	if _, err := streams.Ensure(jstest.Context(t, 30*time.Second), js, ownStreams(streams.Config{})); err != nil {
		t.Fatal(err)
	}
	srv.Shutdown()
	srv.WaitForShutdown()

	r := start(t, standardDefaults(), "-broker", "-nats-port", "-1", "-data", dir)
	r.waitFor(t, "export NATS_URL=")
	url := strings.TrimPrefix(field(t, r.out.String(), "export"), "NATS_URL=")
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect to the printed %s: %v", url, err)
	}
	defer nc.Close()
	js, err = jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := jstest.Context(t, 30*time.Second)
	sc := streams.Config{}.WithDefaults()
	if got, want := names(t, ctx, js, sc.DeliverStream), []string{sc.Consumer, sc.WaiterConsumer}; !slices.Equal(got, want) {
		t.Errorf("consumers on %s = %q, want the defaults %q", sc.DeliverStream, got, want)
	}
	if got, want := names(t, ctx, js, sc.AttemptsStream), []string{sc.LogConsumer}; !slices.Equal(got, want) {
		t.Errorf("consumers on %s = %q, want %q", sc.AttemptsStream, got, want)
	}
	if _, err := streams.Ensure(ctx, js, streams.Config{}); err != nil { // what a deliverer does
		t.Errorf("a deliverer's streams.Ensure against the broker: %v", err)
	}
	if _, err := js.KeyValue(ctx, sc.SecretsBucket); err != nil {
		t.Errorf("bucket %s: %v", sc.SecretsBucket, err)
	}

	err = runWith(ctx, append(freePorts, "-exit", "-data", dir), &strings.Builder{}, standardDefaults())
	if !errors.Is(err, errDataDirInUse) {
		t.Errorf("a second quickstart on the broker's directory: %v, want errDataDirInUse", err)
	}
	nc.Close()
	if err := r.stop(t); err != nil {
		t.Fatalf("broker: %v\n%s", err, r.out)
	}
	err = runWith(ctx, append(freePorts, "-exit", "-data", dir), &strings.Builder{}, standardDefaults())
	if !errors.Is(err, errForeignConsumers) {
		t.Errorf("the demo on the broker's directory: %v, want errForeignConsumers", err)
	}
}
