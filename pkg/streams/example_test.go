package streams_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// Ensure creates (or brings up to date) every JetStream resource of the
// pipeline; it is idempotent, so every service calls it at start-up. The
// subjects are the contract a publisher in any language writes to.
func ExampleEnsure() {
	js, stop, err := jetStream()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	sc := streams.Config{}.WithDefaults() // zero fields take the defaults
	res, err := streams.Ensure(ctx, js, sc)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("streams:", res.Deliver.CachedInfo().Config.Name, res.Undelivered.CachedInfo().Config.Name, res.Attempts.CachedInfo().Config.Name)
	fmt.Println("consumer:", res.Consumer.CachedInfo().Name)
	fmt.Println("publish to:", sc.DeliverSubject("org_456", envelope.SourceJob))
	fmt.Println("attempts on:", sc.AttemptSubject("org_456", envelope.SourceWorkflow))
	// Output:
	// streams: WEBHOOKS WEBHOOKS_UNDELIVERED WEBHOOKS_ATTEMPTS
	// consumer: deliverer
	// publish to: webhooks.deliver.org_456.job
	// attempts on: webhooks.attempt.org_456.workflow
}

// jetStream starts a throwaway JetStream server with its store in a
// temporary directory, so that the example runs anywhere; in production,
// connect to your cluster with nats.Connect instead. stop closes the
// connection, stops the server and removes the store.
func jetStream() (js jetstream.JetStream, stop func(), err error) {
	dir, err := os.MkdirTemp("", "webhooks-example-")
	if err != nil {
		return nil, nil, err
	}
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, err
	}
	ns.Start()
	stopServer := func() { ns.Shutdown(); ns.WaitForShutdown(); _ = os.RemoveAll(dir) }
	if !ns.ReadyForConnections(10 * time.Second) {
		stopServer()
		return nil, nil, errors.New("the JetStream server did not start")
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		stopServer()
		return nil, nil, err
	}
	if js, err = jetstream.New(nc); err != nil {
		nc.Close()
		stopServer()
		return nil, nil, err
	}
	return js, func() { nc.Close(); stopServer() }, nil
}
