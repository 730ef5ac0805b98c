package runresult_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/runresult"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// A workflow engine runs the outgoing_webhook block: it publishes the run,
// then waits for the delivery's final outcome and writes the block's three
// columns into the run's output. (Compiled, not run: it needs a NATS server
// with the pipeline's streams and a running deliverer.)
func Example() {
	ctx := context.Background()
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		fmt.Println("connect:", err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Println(err)
		return
	}

	pub := publish.New(js, publish.Config{})
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

	// Six attempts of up to 30 s each, 31 s of backoff between them.
	wait, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cols, outcome, err := runresult.Await(wait, js, streams.Config{}, "org_456", receipt.EventID)
	if err != nil {
		fmt.Println("no outcome yet:", err) // ask again later with runresult.Lookup
		return
	}
	fmt.Printf("webhook_status_code=%d webhook_success=%v webhook_response=%q (%s after %d attempts)\n",
		cols.StatusCode, cols.Success, cols.Response, outcome.State, outcome.Attempts)
}
