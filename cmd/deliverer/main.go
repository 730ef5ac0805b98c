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
	err := run(ctx, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "deliverer:", err)
	}
	os.Exit(config.ExitStatus(err))
}

// settings are the deliverer's: the service's, and a master key (or
// WEBHOOKS_DEV_MODE), which only the deliverer requires (the quickstart,
// sharing service.DelivererSettings, supplies the development key itself).
type settings struct {
	service.DelivererSettings
}

// Validate checks every setting, and that a master key is given.
func (s settings) Validate() error {
	return config.Check(s.DelivererSettings.Validate(), s.RequireMasterKey())
}

// run reads and checks every setting, binds the ops address, connects
// (starting the embedded server when NATS_URL is empty) and delivers until
// ctx ends. A setting that is wrong (exit status 2) or an address in use
// stops it before it has started anything.
func run(ctx context.Context, logOut io.Writer) error {
	var s settings
	if err := config.Load(&s); err != nil {
		return err
	}
	lns, err := service.Listen(service.Address{Setting: "DELIVERER_OPS_ADDR", Addr: s.OpsAddr, Optional: true})
	if err != nil {
		return err
	}
	defer service.CloseListeners(lns)
	// One line per attempt: batched into few writes, warnings at once.
	lines := logbuf.New(logOut, logbuf.DefaultFlushInterval)
	defer lines.Close()
	log, err := s.Logger(lines, "deliverer")
	if err != nil {
		return err
	}
	log.Info().Str("version", version.Version).Msg("starting")
	destinations, _, err := s.Destinations()
	if err != nil {
		return err
	}
	s.WarnUnsafe(log, destinations)
	s.WarnDevKey(log)
	service.TuneGC(service.DelivererGCPercent, log)
	conn, err := natsconn.Open(s.NATS(), "deliverer", log)
	if err != nil {
		return err
	}
	defer conn.Close()
	return service.RunDelivererOn(ctx, s.DelivererSettings, s.Streams(), conn, lns[0], log)
}
