// Command webhooksctl is the operators' tool for the webhook pipeline: it
// lists, shows, replays and purges undelivered events, looks up the
// delivery status of an event, task or workflow run, and manages the
// organizations' signing secrets. It connects to the NATS server named by
// NATS_URL (it never starts an embedded server) and reads the same
// environment as the other commands (see the README).
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	var usage usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintln(os.Stderr, "webhooksctl:", err)
		fmt.Fprintln(os.Stderr, "Run 'webhooksctl help' for usage.")
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "webhooksctl:", err)
		os.Exit(1)
	}
}

// usageError is a mistake in the command line; main exits with status 2.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

const usageText = `webhooksctl: operate the Sixtyfour webhook pipeline.

Usage:
  webhooksctl undelivered list    [filters] [--limit N] [--json]
  webhooksctl undelivered show    <event-id> [--json]
  webhooksctl undelivered replay  [filters] [--dry-run] [--rate N[/s|/m]] [--yes]
  webhooksctl undelivered purge   (filters | --all) [--yes]
  webhooksctl status  (--event-id ID | --task-id ID | --run-id ID) [--org ORG] [--json]
  webhooksctl log     [--org ORG] [--state S] [--source S] [--type T] [--host H] [--status 2xx|3xx|4xx|5xx|none]
                      [--since T] [--until T] [--limit N] [--cursor C] [--follow] [--json]
  webhooksctl log     --event-id ID [--org ORG] [--json]     (every attempt of one event)
  webhooksctl secrets create --org ORG
  webhooksctl secrets roll   --org ORG [--overlap-hours 0..72]   (default 24)
  webhooksctl secrets delete --org ORG [--yes]
  webhooksctl secrets show   --org ORG [--json]
  webhooksctl secrets reencrypt            (after adding a new master key first in WEBHOOKS_MASTER_KEY)
  webhooksctl tokens create --name NAME (--operator | --org ORG [--replay])
  webhooksctl tokens list   [--json]
  webhooksctl tokens revoke <token-id> [--yes]
  webhooksctl partitions mapping     (the NATS server mapping for STREAMS_PARTITIONS)
  webhooksctl partitions ensure      (create the streams and consumers of STREAMS_PARTITIONS)
  webhooksctl partitions status [--json]
  webhooksctl partitions retire      (delete drained streams of other partition counts)

Filters (all optional, combined with AND; --id may be repeated and is an OR list):
  --org ORG  --source job|workflow  --type EVENT_TYPE  --host HOST  --id EVENT_ID
  --since T  --until T   (RFC 3339, or a duration meaning "ago", such as 2h or 30m;
                          the time the event was dead-lettered)

Replay re-publishes each event's unchanged request with the same event id, then
removes it from the undelivered stream; it is safe to interrupt and run again.
Replay, purge and secrets delete ask for confirmation (y/N) unless --yes is given.
create and roll print the new secret once, alone on stdout; it is never shown again.
tokens create prints the new API token the same way (only its SHA-256 is stored). An
organization token reads only its organization through the publisher's APIs and console.
On a server where no deliverer or publisher has run yet, secrets create makes the
signing-secret bucket, and the read-only commands report that nothing exists yet.

status and log read the delivery log named by LOG_STORE_URL (default
sqlite:./data/deliveries.db; webhooksctl never creates it); log needs no NATS.

Environment: NATS_URL (required except for log), LOG_STORE_URL, NATS_CREDS, NATS_CA, NATS_CERT, NATS_KEY,
WEBHOOKS_MASTER_KEY (secrets create and roll; or WEBHOOKS_DEV_MODE=true locally),
LOG_LEVEL. Exit status: 0 done, 1 failed or declined, 2 bad usage.
`

// cli is one invocation: its streams, clock and context.
type cli struct {
	ctx    context.Context
	in     *bufio.Reader
	out    io.Writer
	errOut io.Writer
	// terminal is true when stderr is a terminal (progress bar, not lines).
	terminal bool
	now      func() time.Time
}

// run executes one command line (without the program name).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	errOut := &gatedWriter{w: stderr} // the logger writes from NATS callbacks too
	defer errOut.close()
	c := &cli{ctx: ctx, in: bufio.NewReader(stdin), out: stdout, errOut: errOut, terminal: isTerminal(stderr), now: time.Now}
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return usagef("no command given")
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return nil
	case "undelivered":
		return c.undelivered(args[1:])
	case "status":
		return c.status(args[1:])
	case "log":
		return c.log(args[1:])
	case "secrets":
		return c.secrets(args[1:])
	case "tokens":
		return c.tokens(args[1:])
	case "partitions":
		return c.partitions(args[1:])
	default:
		return usagef("unknown command %q", args[0])
	}
}

// undelivered dispatches the undelivered subcommands.
func (c *cli) undelivered(args []string) error {
	if len(args) == 0 {
		return usagef("undelivered needs a subcommand: list, show, replay or purge")
	}
	switch args[0] {
	case "list":
		return c.list(args[1:])
	case "show":
		return c.show(args[1:])
	case "replay":
		return c.replay(args[1:])
	case "purge":
		return c.purge(args[1:])
	default:
		return usagef("unknown undelivered subcommand %q (want list, show, replay or purge)", args[0])
	}
}

// confirm asks question on stderr and reads y/N from stdin; anything but
// y or yes (or end of input) is no.
func (c *cli) confirm(question string) bool {
	fmt.Fprintf(c.errOut, "%s [y/N] ", question)
	line, _ := c.in.ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}
