package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/natsconn"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/runresult"
	"github.com/sixtyfour-oss/webhooks/pkg/sign"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

func printOutcomes(out io.Writer, events []*demoEvent, logAt string) {
	fmt.Fprintf(out, "\nOutcomes (delivery log %s):\n", logAt)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  EVENT ID\tWHAT\tATTEMPTS\tLAST STATUS\tOUTCOME")
	for _, e := range events {
		r := e.round
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%s\n", r.EventID, e.label, r.Attempts, r.StatusCode, strings.ToUpper(r.State))
	}
	tw.Flush()
	fmt.Fprintln(out, "\nThe undelivered event is in stream WEBHOOKS_UNDELIVERED with its failure record.")
}

// printTimeline prints every attempt of one event, from the delivery log.
func printTimeline(ctx context.Context, out io.Writer, store logstore.Store, e *demoEvent) {
	tl, err := store.Timeline(ctx, demoOrg, e.receipt.EventID)
	if err != nil {
		fmt.Fprintf(out, "\nAttempt timeline of %s: %v\n", e.receipt.EventID, err)
		return
	}
	fmt.Fprintf(out, "\nAttempt timeline of %s (%s), from the delivery log:\n", e.receipt.EventID, e.label)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ATTEMPT\tSTARTED\tSTATUS\tDURATION\tDECISION\tRESPONSE / ERROR")
	for _, r := range tl.Rounds {
		for _, a := range r.AttemptList {
			detail := a.Error
			if detail == "" {
				detail = a.ResponseExcerpt
			}
			if len(detail) > 60 {
				detail = detail[:60] + "..."
			}
			decision := a.Decision
			if a.RetryDelayMS > 0 {
				decision += " in " + (time.Duration(a.RetryDelayMS) * time.Millisecond).String()
			}
			fmt.Fprintf(tw, "  %d\t%s\t%d\t%.1fms\t%s\t%s\n", a.Attempt, a.StartedAt.Format("15:04:05.000"), a.StatusCode,
				a.DurationMS, decision, strings.Join(strings.Fields(detail), " "))
		}
	}
	tw.Flush()
}

// banner is what printBanner shows.
type banner struct {
	natsAt                      string
	sc                          streams.Config
	receiver, logPath, logStore string
	secret, preview, schedule   string
	lns                         *listeners
}

// printBanner prints where everything runs, at the addresses chosen.
func printBanner(out io.Writer, b banner) {
	fmt.Fprintf(out, "Sixtyfour webhooks quickstart\n")
	fmt.Fprintf(out, "  JetStream  %s\n", b.natsAt)
	fmt.Fprintf(out, "  consumers  %s, %s, %s (the quickstart's own)\n", b.sc.Consumer, b.sc.WaiterConsumer, b.sc.LogConsumer)
	fmt.Fprintf(out, "  receiver   %s (verifies every signature%s)\n", b.receiver, b.lns.receiver.note())
	fmt.Fprintf(out, "  logs       %s\n", b.logPath)
	fmt.Fprintf(out, "  log store  %s (delivery log, every attempt)\n", b.logStore)
	fmt.Fprintf(out, "  secret     %s for %s, shown once: %s\n", b.preview, demoOrg, b.secret)
	fmt.Fprintf(out, "  retries    after %s\n", strings.ReplaceAll(b.schedule, ",", ", "))
	if b.lns.ops.Listener != nil {
		fmt.Fprintf(out, "  ops        http://%s/metrics, /healthz, /readyz (the deliverer's%s)\n", b.lns.ops.Addr(), b.lns.ops.note())
	}
}

// nextSteps is what printNextSteps needs: the addresses the demo chose.
type nextSteps struct {
	ingestURL, token, receiver, natsURL, logURL string
	undelivered                                 string // the event id of the undelivered demo event
	consoleURL                                  string // "" when the console is off
}

// printNextSteps says how to publish an event and read the log, status and
// undelivered stream of the running demo, at its actual addresses.
func printNextSteps(out io.Writer, n nextSteps) {
	fmt.Fprintf(out, `
The pipeline keeps running (Ctrl-C stops it). Publish your own event from another terminal:

  curl -sS -X POST %s/v1/events \
    -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
    -d '{"org_id":"%s","source":"job","url":"%s/ok",
         "job":{"task_id":"my-task-1","status":"completed","task_type":"find_email","result":{"email":"a@b.c"}}}'

The receiver above prints it with its verified signature (header %s).
Every attempt is in the delivery log:

  curl -sS -H 'Authorization: Bearer %s' '%s/v1/deliveries?org_id=%s'
  LOG_STORE_URL=%s go run ./cmd/webhooksctl log --org %s

The undelivered event's status, and its replay (the receiver's /down still fails it):

  curl -sS -H 'Authorization: Bearer %s' '%s/v1/status?event_id=%s'
  export NATS_URL=%s LOG_STORE_URL=%s
  go run ./cmd/webhooksctl undelivered replay --id %s --yes
  go run ./cmd/webhooksctl status --event-id %s
`, n.ingestURL, n.token, demoOrg, n.receiver, sign.HeaderName, n.token, n.ingestURL, demoOrg, n.logURL, demoOrg,
		n.token, n.ingestURL, n.undelivered, n.natsURL, n.logURL, n.undelivered, n.undelivered)
	if n.consoleURL != "" {
		fmt.Fprintf(out, `
The console shows all of it: %s (sign in with %q, an operator token). A token
that sees only %s, for its own people (printed once):

  NATS_URL=%s go run ./cmd/webhooksctl tokens create --name "%s support" --org %s --replay
`, n.consoleURL, n.token, demoOrg, n.natsURL, demoOrg, demoOrg)
	}
}

// printBlockColumns reads back the workflow block's columns of each run,
// as a workflow engine does with pkg/runresult.
func printBlockColumns(ctx context.Context, out io.Writer, conn *natsconn.Conn, sc streams.Config, events []*demoEvent) {
	fmt.Fprintln(out, "\nBlock columns of the workflow runs (pkg/runresult):")
	for _, e := range events {
		if e.source != envelope.SourceWorkflow {
			continue
		}
		cols, _, ok, err := runresult.Lookup(ctx, conn.JS, sc, demoOrg, e.receipt.EventID)
		if err != nil || !ok {
			fmt.Fprintf(out, "  %s: not found (%v)\n", e.receipt.EventID, err)
			continue
		}
		fmt.Fprintf(out, "  %s  webhook_status_code=%d webhook_success=%t webhook_response=%q\n", e.receipt.EventID, cols.StatusCode, cols.Success, cols.Response)
	}
}

// syncWriter serializes writes to w: the receiver prints from its
// handlers while the demo prints its progress.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write writes p to w, one writer at a time.
func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
