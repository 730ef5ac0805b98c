// Command quickstart runs the whole pipeline on one machine with nothing
// installed: an embedded JetStream server (127.0.0.1:4222, data in ./data),
// a deliverer on consumers of its own, and a bundled receiver that
// verifies every signature. It
// creates a signing secret for a demo organization, publishes four events
// (a job delivered at once, a workflow run delivered after retries, a job
// that ends in the undelivered stream, and a workflow run with a signed CSV
// download link that the receiver downloads), runs a log writer into an
// embedded SQLite delivery log, prints what happened, the workflow block's
// columns and one event's attempt timeline from the log, and keeps running
// so you can publish your own. A default port that is taken is replaced by a
// free one, which the banner prints.
//
// With -broker it serves only the broker: the embedded server with the
// pipeline's streams under their default names, for separately started
// deliverers, log writers and publishers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout)
	var usage usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

type usageError struct{ error }

// defaults are the quickstart's default addresses. A default that is taken
// is replaced by a free port (and the banner says so); an address given by
// flag is used as given.
type defaults struct {
	natsPort                          int
	receiver, publisher, ops, console string
}

// standardDefaults are the addresses the README documents.
func standardDefaults() defaults {
	return defaults{natsPort: 4222, receiver: "127.0.0.1:8081", publisher: "127.0.0.1:8080", ops: "127.0.0.1:9090",
		console: "127.0.0.1:9092"}
}

// options are the quickstart's flags.
type options struct {
	natsPort     int
	storeDir     string
	receiverAddr string
	ingestAddr   string
	token        string
	opsAddr      string
	consoleAddr  string
	schedule     string
	logFile      string
	logStore     string
	exit         bool
	broker       bool
	// explicit holds the names of the flags given on the command line.
	explicit map[string]bool
}

func parseFlags(args []string, out io.Writer, d defaults) (options, error) {
	var o options
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&o.natsPort, "nats-port", d.natsPort, "port of the embedded JetStream server (-1: any free port; a taken default is replaced by a free one)")
	fs.StringVar(&o.storeDir, "data", "./data", "JetStream data directory")
	fs.StringVar(&o.receiverAddr, "receiver", d.receiver, "listen address of the bundled receiver")
	fs.StringVar(&o.ingestAddr, "publisher", d.publisher, "listen address of the HTTP ingest API")
	fs.StringVar(&o.token, "token", "quickstart-token", "bearer token of the HTTP ingest API")
	fs.StringVar(&o.opsAddr, "ops", d.ops, "listen address of the deliverer's /metrics, /healthz and /readyz (empty: off)")
	fs.StringVar(&o.consoleAddr, "console", d.console, "listen address of the web console (empty: off)")
	fs.StringVar(&o.schedule, "schedule", "1s,2s,4s,8s,16s", "retry schedule")
	fs.StringVar(&o.logFile, "log", "quickstart.log", "file for the components' JSON logs (relative to -data)")
	fs.StringVar(&o.logStore, "log-store", "", "delivery log: sqlite:PATH or postgres://... (default sqlite:<data>/deliveries.db)")
	fs.BoolVar(&o.exit, "exit", false, "exit after the demo instead of running until Ctrl-C (with -broker: once the streams exist)")
	fs.BoolVar(&o.broker, "broker", false, "serve only the broker: the embedded JetStream server with the pipeline's streams, "+
		"for a deliverer, log writer and publisher you start yourself with NATS_URL; runs until Ctrl-C")
	if err := fs.Parse(args); err != nil {
		return o, usageError{err}
	}
	if fs.NArg() > 0 {
		return o, usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	o.explicit = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.explicit[f.Name] = true })
	return o, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	return runWith(ctx, args, out, standardDefaults())
}

// runWith is run with the default addresses d.
func runWith(ctx context.Context, args []string, out io.Writer, d defaults) error {
	o, err := parseFlags(args, out, d)
	if err != nil {
		return err
	}
	if o.broker {
		return broker(ctx, o, out)
	}
	return demo(ctx, o, out)
}
