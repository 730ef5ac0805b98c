// Command deliverer consumes the WEBHOOKS stream and delivers each event:
// it signs every attempt with the organization's secret, POSTs it, retries
// with delayed redelivery and dead-letters what cannot be delivered. Run as
// many as the load needs; they share one durable consumer. Configuration
// comes from the environment (see the README).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/logbuf"
	"github.com/sixtyfour-oss/webhooks/internal/natsconn"
	"github.com/sixtyfour-oss/webhooks/internal/service"
	"github.com/sixtyfour-oss/webhooks/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "deliverer:", err)
		os.Exit(1)
	}
}

// run reads the configuration, connects and delivers until ctx ends.
func run(ctx context.Context, logOut io.Writer) error {
	var s service.DelivererSettings
	if err := config.Load(&s); err != nil {
		return err
	}
	// One line per attempt: batched into few writes, warnings at once.
	lines := logbuf.New(logOut, logbuf.DefaultFlushInterval)
	defer lines.Close()
	log, err := s.Logger(lines, "deliverer")
	if err != nil {
		return err
	}
	log.Info().Str("version", version.Version).Msg("starting")
	service.TuneGC(service.DelivererGCPercent, log)
	conn, err := natsconn.Open(s.Config, "deliverer", log)
	if err != nil {
		return err
	}
	defer conn.Close()
	return service.RunDeliverer(ctx, s, conn, log)
}
