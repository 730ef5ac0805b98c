// Command bench measures the delivery pipeline on this machine and prints
// one summary line (BENCH ...) after the details of every phase:
//
//   - baselines: the HTTP client alone (A), JetStream publish and
//     consume+ack alone (B), and the simplest correct
//     consume-sign-POST-ack loop (C);
//   - the full deliverer (destination guard with a loopback allow-list,
//     signing with a secret from the secrets cache, outcome records,
//     metrics, per-attempt logging at info level to a file) draining a
//     backlog, with its peak RSS, and again with the server fsyncing every
//     write;
//   - publish-to-receipt latency at fixed offered loads;
//   - isolation from a destination that accepts connections and never
//     answers;
//   - repeated high-concurrency drains, counting stalls;
//   - the delivery history and the delivery log (history, log);
//   - fairness: one organization's latency while another's 200,000-event
//     backlog drains, against its latency alone;
//   - scale: a three-server cluster (each server a child process, fsync on
//     every write, R3) draining a backlog at one partition and at three,
//     with each server's CPU per event.
//
// Everything runs on loopback: the JetStream server (the scale phase's
// three servers run as child processes), the sink and the publisher in
// this process, and each client under test (the deliverer or
// a baseline loop) in a child process, a re-execution of this binary, so
// that its CPU time and peak RSS are its own. Every phase starts from a
// fresh server in a temporary directory.
//
// Usage: go run ./cmd/bench [-quick] [-profile DIR] [-phases LIST] ...
// (-h lists every flag).
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
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		var usage usageError
		if errors.As(err, &usage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a bad command line.
type usageError struct{ error }

// run is the whole command. In a child process (childEnv set by the
// parent) it runs the client under test instead, talking to the parent
// over stdin and stdout.
func run(ctx context.Context, args []string, out io.Writer) error {
	if spec := os.Getenv(childEnv); spec != "" {
		return runChild(ctx, spec, os.Stdin, out)
	}
	o, err := parseFlags(args, out)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	return runBench(ctx, o, out)
}
