package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/deliveries"
	"github.com/sixtyfour-oss/webhooks/internal/download"
	"github.com/sixtyfour-oss/webhooks/internal/httpapi"
	"github.com/sixtyfour-oss/webhooks/internal/ingest"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logwriter"
	"github.com/sixtyfour-oss/webhooks/internal/natsconn"
	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/internal/service"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/results"
	"github.com/sixtyfour-oss/webhooks/pkg/runresult"
	"github.com/sixtyfour-oss/webhooks/pkg/sign"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// demoOrg is the organization the quickstart signs for.
const demoOrg = "org_demo"

// demoEvent is one event the quickstart publishes and follows.
type demoEvent struct {
	label, path string
	receipt     publish.Receipt
	source      envelope.Source
	csv         bool
	round       *logstore.Delivery // its latest round in the delivery log
}

func demo(ctx context.Context, o options, out io.Writer) error {
	if err := os.MkdirAll(o.storeDir, 0o755); err != nil {
		return err
	}
	logPath := filepath.Join(o.storeDir, o.logFile)
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()

	ln, err := net.Listen("tcp", o.receiverAddr)
	if err != nil {
		return fmt.Errorf("receiver: %w (choose another address with -receiver)", err)
	}
	receiverHost, _, _ := net.SplitHostPort(ln.Addr().String())

	// Settings come from the environment like every command's, then the
	// quickstart's own: an embedded server unless NATS_URL is set, the
	// local receiver allowed, and the development key unless a master key
	// is given.
	var s service.DelivererSettings
	if err := config.Load(&s); err != nil {
		ln.Close()
		return err
	}
	s.EmbeddedPort, s.EmbeddedStoreDir = o.natsPort, o.storeDir
	s.AllowDestinations = strings.Trim(s.AllowDestinations+","+receiverHost, ",")
	s.UnsafeAllowHTTP = true
	s.DevMode = s.MasterKey == ""
	s.RetrySchedule = o.schedule
	s.OpsAddr = o.opsAddr
	if s.DownloadKey == "" {
		s.DownloadKey = randomKey()
	}
	log, err := s.Logger(logFile, "quickstart")
	if err != nil {
		ln.Close()
		return err
	}
	policy, err := s.Policy()
	if err != nil {
		ln.Close()
		return err
	}
	destinations, urls, err := s.Destinations()
	if err == nil {
		s.WarnUnsafe(log, destinations)
	}
	if err != nil {
		ln.Close()
		return err
	}
	keyring, err := s.Keyring(log)
	if err != nil {
		ln.Close()
		return err
	}

	conn, err := natsconn.Open(s.Config, "quickstart", log)
	if err != nil {
		ln.Close()
		return err
	}
	defer conn.Close()
	res, err := service.EnsureStreams(ctx, s.Common, conn)
	if err != nil {
		ln.Close()
		return err
	}

	store, stopWriter, err := startLogWriter(ctx, conn, s.Streams(), logStoreURL(o), log)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopWriter()

	mgr := &secrets.Manager{KV: res.Secrets, Keyring: keyring}
	secret, meta, err := mgr.Create(ctx, demoOrg)
	if err != nil {
		ln.Close()
		return fmt.Errorf("create signing secret: %w", err)
	}
	rc := newReceiver(secret, out)
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	natsAt := s.URL
	if conn.Embedded != nil {
		natsAt = conn.Embedded.ClientURL() + " (embedded, data in " + o.storeDir + ")"
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "Sixtyfour webhooks quickstart\n")
	fmt.Fprintf(out, "  JetStream  %s\n", natsAt)
	fmt.Fprintf(out, "  receiver   %s (verifies every signature)\n", base)
	fmt.Fprintf(out, "  logs       %s\n", logPath)
	fmt.Fprintf(out, "  log store  %s (delivery log, every attempt)\n", logStoreURL(o))
	fmt.Fprintf(out, "  secret     %s for %s, shown once: %s\n", meta.Preview, demoOrg, secret)
	fmt.Fprintf(out, "  retries    after %s\n", strings.ReplaceAll(policy.Schedule.String(), ",", ", "))

	pub := publish.New(conn.JS, publish.Config{Streams: s.Streams(), URLs: urls, Destinations: destinations, Results: res.Results})
	ingestLn, err := net.Listen("tcp", o.ingestAddr)
	if err != nil {
		return fmt.Errorf("publisher: %w (choose another address with -publisher)", err)
	}
	// Downloads are served next to the ingest API here; production serves
	// them on their own listener (PUBLISHER_DOWNLOAD_ADDR).
	s.DownloadBaseURL = "http://" + ingestLn.Addr().String()
	signer, _, err := s.DownloadSigner()
	if err != nil {
		ingestLn.Close()
		return err
	}
	dctx, stopDeliverer := context.WithCancel(ctx)
	delivererDone := make(chan error, 1)
	settings := s // the deliverer gets its own copy, with the download base URL set
	go func() { delivererDone <- service.RunDeliverer(dctx, settings, conn, log) }()
	defer func() { stopDeliverer(); <-delivererDone }()

	mux := http.NewServeMux()
	mux.Handle(download.PathPrefix, download.Handler(res.Results, signer, log))
	mux.Handle("/", ingest.NewHandler(pub, ingest.Config{Tokens: []string{o.token}, Logger: &log}))
	readers := httpapi.NewTokens([]string{o.token})
	deliveryLog := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !readers.Authorized(r) {
			httpapi.Unauthorized(w)
			return
		}
		deliveries.Handler(store).ServeHTTP(w, r)
	})
	mux.Handle(deliveries.Path, deliveryLog)
	mux.Handle(deliveries.Path+"/", deliveryLog)
	ingestSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go ingestSrv.Serve(ingestLn)
	defer ingestSrv.Close()
	fmt.Fprintf(out, "  publisher  http://%s/v1/events (bearer token %q)\n\n", ingestLn.Addr(), o.token)
	events, err := publishDemo(ctx, pub, res, base)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Published %d events for %s; waiting for their outcomes...\n", len(events), demoOrg)
	budget := 30 * time.Second
	for _, d := range policy.Schedule {
		budget += d
	}
	if err := awaitOutcomes(ctx, store, events, budget, delivererDone); err != nil {
		return err
	}
	printOutcomes(out, events, logPathOf(o))
	printBlockColumns(ctx, out, conn, s.Streams(), events)
	printTimeline(ctx, out, store, events[1])
	if n := rc.rejected(); n > 0 {
		return fmt.Errorf("the receiver rejected %d signatures", n)
	}
	if o.exit {
		return nil
	}
	printNextSteps(out, "http://"+ingestLn.Addr().String(), o.token, base, logPathOf(o))
	select {
	case <-ctx.Done():
	case err := <-delivererDone:
		return fmt.Errorf("deliverer stopped: %w", err)
	}
	return nil
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

func printNextSteps(out io.Writer, ingestURL, token, base, logURL string) {
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
`, ingestURL, token, demoOrg, base, sign.HeaderName, token, ingestURL, demoOrg, logURL, demoOrg)
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

// randomKey returns a fresh base64 download signing key for this run.
func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// logStoreURL is the quickstart's delivery log: -log-store, else an SQLite
// file in the data directory.
func logStoreURL(o options) string {
	if o.logStore != "" {
		return o.logStore
	}
	return "sqlite:" + filepath.Join(o.storeDir, "deliveries.db")
}

func logPathOf(o options) string { return logstore.Redact(logStoreURL(o)) }

// startLogWriter opens the delivery log and runs a log writer into it; the
// returned func stops the writer and closes the store.
func startLogWriter(ctx context.Context, conn *natsconn.Conn, sc streams.Config, url string, log zerolog.Logger) (logstore.Store, func(), error) {
	store, err := service.OpenLogStore(ctx, config.LogStore{StoreURL: url, Retention: logstore.DefaultRetention})
	if err != nil {
		return nil, nil, err
	}
	w, err := logwriter.New(ctx, conn.JS, store, logwriter.Config{Streams: sc, Logger: &log})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(wctx) }()
	return store, func() { cancel(); <-done; store.Close() }, nil
}
