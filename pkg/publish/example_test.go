package publish_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// A job runner publishes a finished job. The event id makes the publish
// idempotent: retrying it (after a timeout, say) stores nothing twice.
// The destination's host must resolve to public addresses; this example
// answers the lookup itself so that it runs offline.
func ExamplePublisher_Publish() {
	js, stop, err := jetStream()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := streams.Ensure(ctx, js, streams.Config{}); err != nil { // done by the deliverer in production
		fmt.Println(err)
		return
	}

	pub := publish.New(js, publish.Config{Resolver: offlineResolver{}})
	req, err := envelope.NewJobRequest(time.Now(), "org_456", "https://your-server.com/webhooks/sixtyfour", envelope.JobResult{
		TaskID: "task-1", Status: envelope.StatusCompleted, TaskType: "find_email",
		Result: json.RawMessage(`{"email":"john@acme.com"}`),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	req.EventID = "01938a4e-7c00-7000-8000-000000000001" // or leave it empty: Publish makes one
	for range 2 {
		receipt, err := pub.Publish(ctx, req)
		if err != nil {
			fmt.Println(err) // errors.Is(err, envelope.ErrInvalid), publish.ErrUnavailable
			return
		}
		fmt.Println(receipt.EventID, receipt.Stream, receipt.Sequence, "duplicate:", receipt.Duplicate)
	}

	_, err = pub.PublishJob(ctx, "org_456", "https://10.0.0.7/hook", envelope.JobResult{TaskID: "task-2", Status: envelope.StatusFailed, TaskType: "find_email", Error: "no email found"})
	fmt.Println("private destination refused:", errors.Is(err, envelope.ErrInvalid))
	// Output:
	// 01938a4e-7c00-7000-8000-000000000001 WEBHOOKS 1 duplicate: false
	// 01938a4e-7c00-7000-8000-000000000001 WEBHOOKS 1 duplicate: true
	// private destination refused: true
}

// offlineResolver answers every lookup with a public address (in
// production leave Config.Resolver nil: net.DefaultResolver).
type offlineResolver struct{}

func (offlineResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
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
