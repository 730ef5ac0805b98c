// Command bench measures the pipeline on this machine: how fast a backlog
// of events drains through the full deliverer (destination guard with a
// loopback allow-list, signing, outcome records, per-attempt logging to a
// file) into a local sink. It runs everything in-process on an embedded
// JetStream server in a temporary directory and prints one summary line.
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
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		var usage usageError
		if errors.As(err, &usage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

type options struct {
	events      int
	concurrency int
	prefetch    int
	syncAlways  bool
	cpuProfile  string
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&o.events, "events", 20000, "events in the backlog to drain")
	fs.IntVar(&o.concurrency, "concurrency", 512, "deliverer concurrency")
	fs.IntVar(&o.prefetch, "prefetch", 256, "deliverer prefetch")
	fs.BoolVar(&o.syncAlways, "fsync", false, "fsync every JetStream write (sync_interval: always)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the drain to this file")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if o.events < 1 || o.concurrency < 1 || o.prefetch < 1 {
		return usageError{errors.New("-events, -concurrency and -prefetch must be >= 1")}
	}
	res, err := drain(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "BENCH drain_events=%d drain_s=%.2f drain_per_s=%.0f fsync=%t\n", o.events, res.seconds, float64(o.events)/res.seconds, o.syncAlways)
	return nil
}
