package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	appconfig "github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/ingest"
	"github.com/sixtyfour-oss/webhooks/internal/natsconn"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/results"
)

// publishFlags are the publish subcommand's flags.
type publishFlags struct {
	org, url, source, file, eventID          string
	taskID, status, taskType, result, errMsg string
	set                                      map[string]bool // flags given explicitly
}

// jobFlags are the flags that describe a job without a file.
var jobFlags = []string{"task-id", "status", "task-type", "result", "error"}

// flagNames maps request fields to the flags that set them, so that a
// validation error names what the user typed.
var flagNames = map[string]string{
	"event_id": "-event-id", "org_id": "-org", "url": "-url", "source": "-source",
	"job.task_id": "-task-id", "job.status": "-status", "job.task_type": "-task-type",
	"job.result": "-result", "job.error": "-error", "event_type": "-task-type",
}

// parsePublishFlags parses and checks the flags; every problem is listed
// in one usage error. It returns flag.ErrHelp after printing the help.
func parsePublishFlags(args []string, stderr io.Writer) (*publishFlags, error) {
	f := &publishFlags{set: map[string]bool{}}
	fs := flag.NewFlagSet("publisher publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.org, "org", "", "organization id (overrides the file's org_id)")
	fs.StringVar(&f.url, "url", "", "destination URL (overrides the file's url)")
	fs.StringVar(&f.source, "source", "job", "job or workflow (workflow needs -file; overrides the file's source)")
	fs.StringVar(&f.file, "file", "", "file holding the JSON body of POST /v1/events; - reads stdin")
	fs.StringVar(&f.eventID, "event-id", "", "idempotency key: a lowercase UUID (default: a new one)")
	fs.StringVar(&f.taskID, "task-id", "", "job task id")
	fs.StringVar(&f.status, "status", "", "job status: completed or failed")
	fs.StringVar(&f.taskType, "task-type", "", "job task type, e.g. find_email")
	fs.StringVar(&f.result, "result", "", "job result, a JSON object (status completed)")
	fs.StringVar(&f.errMsg, "error", "", "job error message (status failed)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: publisher publish -org ORG -url URL -task-id ID -status completed|failed -task-type TYPE [-result JSON | -error MSG]\n"+
			"       publisher publish -file FILE|- [-org ORG] [-url URL] [-source job|workflow]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageErr("%v", err)
	}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	var problems []string
	switch {
	case fs.NArg() == 1 && fs.Arg(0) == "-" && f.file == "":
		f.file = "-"
	case fs.NArg() > 0:
		problems = append(problems, fmt.Sprintf("unexpected arguments %q", fs.Args()))
	}
	problems = append(problems, f.check()...)
	if len(problems) > 0 {
		return nil, usageErr("%s", strings.Join(problems, "; "))
	}
	return f, nil
}

// check lists what is wrong with the flag combination.
func (f *publishFlags) check() []string {
	var problems []string
	if f.source != string(envelope.SourceJob) && f.source != string(envelope.SourceWorkflow) {
		problems = append(problems, fmt.Sprintf("-source must be job or workflow, got %q", f.source))
	}
	if f.file != "" {
		for _, name := range jobFlags {
			if f.set[name] {
				problems = append(problems, "-"+name+" cannot be combined with -file (the file holds the event)")
			}
		}
		return problems
	}
	if f.source == string(envelope.SourceWorkflow) {
		problems = append(problems, "-source workflow needs -file (a workflow run is given as JSON)")
	}
	for _, name := range []string{"org", "url", "task-id", "status", "task-type"} {
		if !f.set[name] {
			problems = append(problems, "-"+name+" is required (or use -file)")
		}
	}
	return problems
}

// event builds the ingest event from the flags or from the file.
func (f *publishFlags) event(stdin io.Reader) (*ingest.Event, error) {
	var ev *ingest.Event
	if f.file == "" {
		job := &envelope.JobResult{TaskID: f.taskID, Status: f.status, TaskType: f.taskType, Error: f.errMsg}
		if f.result != "" {
			job.Result = json.RawMessage(f.result)
		}
		ev = &ingest.Event{OrgID: f.org, URL: f.url, Source: envelope.SourceJob, Job: job}
	} else {
		r := stdin
		if f.file != "-" {
			file, err := os.Open(f.file)
			if err != nil {
				return nil, fmt.Errorf("-file: %w", err)
			}
			defer file.Close()
			r = file
		}
		var err error
		if ev, err = ingest.ParseEvent(r); err != nil {
			return nil, fmt.Errorf("-file %s: %w", f.file, err)
		}
	}
	if f.set["org"] {
		ev.OrgID = f.org
	}
	if f.set["url"] {
		ev.URL = f.url
	}
	if f.set["source"] {
		ev.Source = envelope.Source(f.source)
	}
	if f.set["event-id"] {
		ev.EventID = &f.eventID
	}
	return ev, nil
}

// publishOne builds the event, checks it, publishes it and prints the receipt.
func publishOne(ctx context.Context, cfg config, log zerolog.Logger, f *publishFlags, stdin io.Reader, stdout io.Writer) error {
	ev, err := f.event(stdin)
	if err != nil {
		return f.explain(err)
	}
	req, err := ev.Request(time.Now())
	if err == nil {
		err = req.Validate(cfg.urls)
	}
	if err != nil {
		return f.explain(err)
	}
	warnUnsafeInUse(ctx, log, cfg, req)
	conn, err := natsconn.Open(cfg.NATS(), "webhooks-publisher-cli", log)
	if err != nil {
		return err
	}
	defer conn.Close()
	// The CLI never creates or reconfigures streams (a one-off publish must
	// not reset a cluster's settings): the deliverer and serve mode do.
	if _, err := conn.JS.Stream(ctx, cfg.Streams().DeliverStream); err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("stream %s: %w (start a deliverer or `publisher serve` first: they create the streams)", cfg.Streams().DeliverStream, err)
		}
		return fmt.Errorf("stream %s: %w (JetStream did not answer, e.g. while a leader is elected: nothing was published; publish again)", cfg.Streams().DeliverStream, err)
	}
	var bucket jetstream.ObjectStore // rows over the inline limit need the bucket
	if b, err := results.OpenBucket(ctx, conn.JS, cfg.Streams().ResultsBucket); err == nil {
		bucket = b
	}
	receipt, err := publish.New(conn.JS, cfg.publishConfig(bucket)).Publish(ctx, req)
	if err != nil {
		return f.explain(err)
	}
	log.Info().Str("event_id", receipt.EventID).Str("org_id", req.OrgID).Uint64("sequence", receipt.Sequence).
		Bool("duplicate", receipt.Duplicate).Msg("event published")
	return json.NewEncoder(stdout).Encode(receipt)
}

// hostCheckTimeout bounds the name lookups of warnUnsafeInUse.
const hostCheckTimeout = 5 * time.Second

// warnUnsafeInUse says loudly, once, which unsafe settings this one event
// relies on, and only those: WEBHOOKS_UNSAFE_ALLOW_HTTP for an http://
// destination, WEBHOOKS_ALLOW_DESTINATIONS for a destination that only the
// allow-list lets through (the default policy refuses it). A destination
// the allow-list does not let through either is refused by the publish
// that follows, and nothing is said about the list.
func warnUnsafeInUse(ctx context.Context, log zerolog.Logger, cfg config, req *envelope.Request) {
	if cfg.UnsafeAllowHTTP && strings.HasPrefix(strings.ToLower(req.URL), "http://") {
		appconfig.WarnPlainHTTP(log)
	}
	if !cfg.destinations.IsUnsafe() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, hostCheckTimeout)
	defer cancel()
	host := req.Host()
	if cfg.destinations.CheckHost(ctx, host, nil) == nil && (egress.Policy{}).CheckHost(ctx, host, nil) != nil {
		appconfig.WarnAllowList(log, cfg.destinations)
	}
}

// explain turns a validation error into a readable one: a usage error
// naming the flags when the event came from flags, otherwise the fields.
func (f *publishFlags) explain(err error) error {
	var ve *envelope.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	parts := make([]string, len(ve.Fields))
	for i, fe := range ve.Fields {
		name := fe.Field
		if fl, ok := flagNames[name]; ok && (f.file == "" || f.set[strings.TrimPrefix(fl, "-")]) {
			name = fl
		}
		parts[i] = name + ": " + fe.Message
	}
	msg := strings.Join(parts, "; ")
	if f.file == "" {
		return usageErr("%s", msg)
	}
	return fmt.Errorf("invalid event in %s: %s", f.file, msg)
}
