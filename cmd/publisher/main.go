// Command publisher is the ingest side of the webhook pipeline. It has two
// modes:
//
//	publisher [serve]          serve the HTTP ingest API (POST /v1/events)
//	publisher publish [flags]  publish one event and print its receipt as JSON
//
// Both read their configuration from the environment (NATS_URL and the
// other NATS_* variables, PUBLISHER_*, STREAMS_REPLICAS,
// WEBHOOKS_ALLOW_DESTINATIONS, WEBHOOKS_UNSAFE_ALLOW_HTTP, LOG_LEVEL) and
// log JSON lines to stderr. Every setting is checked before anything
// starts. Exit status: 0 on success, 1 on error, 2 on a usage or
// configuration error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	appconfig "github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/logbuf"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// errUsage is wrapped by every command-line error: exit status 2.
var errUsage = errors.New("usage")

// usageErr returns a usage error: "usage: <message>".
func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}

// exitCode prints err, if any, and returns the process exit status: 2 for
// a usage or configuration error (nothing was started), 1 for any other.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "publisher:", err)
	if errors.Is(err, errUsage) {
		return 2
	}
	return appconfig.ExitStatus(err)
}

const usageText = `usage:
  publisher [serve]          serve the HTTP ingest API (needs PUBLISHER_TOKENS)
  publisher publish [flags]  publish one event and print its receipt as JSON
                             (publisher publish -h lists the flags)
`

// run is the whole program below main: it parses args, reads the
// environment once and runs the chosen mode until it finishes or ctx is
// cancelled.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd, rest := "serve", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "help":
		fmt.Fprint(stdout, usageText)
		return nil
	case "serve":
		if len(rest) == 1 && isHelp(rest[0]) {
			fmt.Fprint(stdout, usageText)
			return nil
		}
		if len(rest) > 0 {
			return usageErr("serve takes no arguments, got %q", rest)
		}
		cfg, err := loadConfig(modeServe)
		if err != nil {
			return err
		}
		// One line per request: batched into few writes, warnings at once.
		lines := logbuf.New(stderr, logbuf.DefaultFlushInterval)
		defer lines.Close()
		return serve(ctx, cfg, newLogger(lines, cfg))
	case "publish":
		flags, err := parsePublishFlags(rest, stderr)
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		if err != nil {
			return err
		}
		cfg, err := loadConfig(modePublish)
		if err != nil {
			return err
		}
		return publishOne(ctx, cfg, newLogger(stderr, cfg), flags, stdin, stdout)
	default:
		return usageErr("unknown command %q: want serve or publish", cmd)
	}
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}
