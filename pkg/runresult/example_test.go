package runresult_test

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
	"github.com/sixtyfour-oss/webhooks/pkg/runresult"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// A workflow engine runs the outgoing_webhook block: it publishes the run,
// then waits for the delivery's final outcome and writes the block's three
// columns into the run's output. In production a deliverer delivers the
// run and records its attempts; here the example records the final attempt
// itself, so that it runs with nothing but an embedded JetStream server.
func Example() {
	js, stop, err := jetStream()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sc := streams.Config{}.WithDefaults()
	if _, err := streams.Ensure(ctx, js, sc); err != nil { // done by the deliverer in production
		fmt.Println(err)
		return
	}

	pub := publish.New(js, publish.Config{Resolver: offlineResolver{}})
	receipt, err := pub.PublishWorkflow(ctx, "org_456", "https://your-server.com/webhooks/sixtyfour", envelope.WorkflowRun{
		WorkflowID: "wf_abc123", RunID: "run_xyz789", RowCount: 1,
		PreviousBlockID: "blk_2", PreviousBlockName: "lead_enrichment", PreviousBlockNumber: 2,
		StartedAt: time.Now(),
		Results:   json.RawMessage(`[{"name":"John Doe","email":"john@acme.com"}]`),
	}, envelope.Block{TimeoutSeconds: 30})
	if err != nil {
		fmt.Println("publish:", err) // errors.Is(err, envelope.ErrInvalid), publish.ErrUnavailable
		return
	}
	if err := recordDelivery(ctx, js, sc, receipt.EventID); err != nil {
		fmt.Println(err)
		return
	}

	// Six attempts of up to 30 s each and 31 s of backoff: wait long enough.
	wait, cancelWait := context.WithTimeout(ctx, 5*time.Minute)
	defer cancelWait()
	cols, outcome, err := runresult.Await(wait, js, sc, "org_456", receipt.EventID)
	if err != nil {
		fmt.Println("no outcome yet:", err) // ask again later with runresult.Lookup
		return
	}
	fmt.Printf("webhook_status_code=%d webhook_success=%v webhook_response=%q (%s after %d attempts)\n",
		cols.StatusCode, cols.Success, cols.Response, outcome.State, outcome.Attempts)
	// Output:
	// webhook_status_code=200 webhook_success=true webhook_response="ok" (delivered after 1 attempts)
}

// recordDelivery writes the attempt record a deliverer writes when the
// first attempt of the event is answered 200 "ok".
func recordDelivery(ctx context.Context, js jetstream.JetStream, sc streams.Config, eventID string) error {
	now := time.Now().UTC()
	rec := &envelope.AttemptRecord{
		V: 1, EventID: eventID, OrgID: "org_456", Source: envelope.SourceWorkflow, EventType: envelope.WorkflowEventType,
		RunID: "run_xyz789", WorkflowID: "wf_abc123", Host: "your-server.com", Attempt: 1,
		QueuedAt: now, StartedAt: now, FinishedAt: now, Sent: true, StatusCode: 200, ResponseExcerpt: "ok",
		Decision: envelope.DecisionDelivered, State: envelope.StateDelivered, Final: true,
	}
	rec.SetBlockColumns()
	msg, err := sc.AttemptMsg(rec)
	if err != nil {
		return err
	}
	_, err = js.PublishMsg(ctx, msg)
	return err
}

// offlineResolver answers every lookup with a public address, so that the
// example needs no DNS (in production leave publish.Config.Resolver nil).
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
