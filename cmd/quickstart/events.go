package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/results"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// demoEvent is one event the quickstart publishes and follows.
type demoEvent struct {
	label, path string
	receipt     publish.Receipt
	source      envelope.Source
	csv         bool
	round       *logstore.Delivery // its latest round in the delivery log
}

// publishDemo publishes the demo events.
func publishDemo(ctx context.Context, pub *publish.Publisher, res *streams.Resources, base string) ([]*demoEvent, error) {
	events := []*demoEvent{
		{label: "job, delivered first time", path: "/ok", source: envelope.SourceJob},
		{label: "workflow run, delivered after retries", path: "/flaky", source: envelope.SourceWorkflow},
		{label: "job, lands in undelivered", path: "/down", source: envelope.SourceJob},
		{label: "workflow run with a CSV download link", path: "/ok", source: envelope.SourceWorkflow, csv: true},
	}
	for i, e := range events {
		var err error
		switch e.source {
		case envelope.SourceJob:
			e.receipt, err = pub.PublishJob(ctx, demoOrg, base+e.path, envelope.JobResult{
				TaskID: fmt.Sprintf("task-%d-%d", time.Now().Unix(), i), Status: envelope.StatusCompleted, TaskType: "find_email",
				Result: []byte(`{"name":"John Doe","company":"Acme Inc","email":[["john.doe@acme.com","OK"]]}`),
			})
		case envelope.SourceWorkflow:
			run := envelope.WorkflowRun{
				WorkflowID: "wf_abc123", RunID: fmt.Sprintf("run_%d_%d", time.Now().Unix(), i), RowCount: 1,
				PreviousBlockID: "blk_2", PreviousBlockName: "lead_enrichment", PreviousBlockNumber: 2,
				StartedAt: time.Now(), Results: []byte(`[{"name":"John Doe","email":"john@acme.com"}]`),
				IncludeCSVDownloadLink: e.csv,
			}
			if e.csv {
				// The previous block's CSV, as a workflow engine stores it.
				csv := strings.NewReader("name,email\nJohn Doe,john@acme.com\n")
				if err := results.Put(ctx, res.Results, results.CSVKey(demoOrg, run.RunID, run.PreviousBlockID), csv, "text/csv"); err != nil {
					return nil, err
				}
			}
			e.receipt, err = pub.PublishWorkflow(ctx, demoOrg, base+e.path, run, envelope.Block{TimeoutSeconds: 10})
		}
		if err != nil {
			return nil, fmt.Errorf("publish %s: %w", e.label, err)
		}
	}
	return events, nil
}

// awaitOutcomes waits until the delivery log shows each event's final
// state: the deliverer recorded the attempt and the log writer stored it.
func awaitOutcomes(ctx context.Context, store logstore.Store, events []*demoEvent, within time.Duration, delivererDone <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for _, e := range events {
		for e.round == nil || !e.round.Final {
			rounds, err := store.Find(ctx, logstore.ByEventID, e.receipt.EventID, demoOrg)
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("read the delivery log: %w", err)
			}
			if len(rounds) > 0 {
				e.round = &rounds[0]
			}
			if e.round != nil && e.round.Final {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("no final outcome for %s (%s) after %v", e.receipt.EventID, e.label, within)
			case err := <-delivererDone:
				return fmt.Errorf("the deliverer stopped: %v", err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}
