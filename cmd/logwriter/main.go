// Command logwriter drains the attempt records the deliverers publish
// (WEBHOOKS_ATTEMPTS) into the delivery log: an embedded SQLite file by
// default, or PostgreSQL (LOG_STORE_URL). Run one or more; they share one
// durable consumer and their writes are idempotent. Configuration comes
// from the environment (see the README).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/natsconn"
	"github.com/sixtyfour-oss/webhooks/internal/service"
	"github.com/sixtyfour-oss/webhooks/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "logwriter:", err)
	}
	os.Exit(config.ExitStatus(err))
}

// run reads and checks every setting, binds the ops address, connects
// (starting the embedded server when NATS_URL is empty) and writes until
// ctx ends. A setting that is wrong (exit status 2) or an address in use
// stops it before it has started anything.
func run(ctx context.Context, logOut io.Writer) error {
	var s service.LogWriterSettings
	if err := config.Load(&s); err != nil {
		return err
	}
	lns, err := service.Listen(service.Address{Setting: "LOG_WRITER_OPS_ADDR", Addr: s.OpsAddr, Optional: true})
	if err != nil {
		return err
	}
	defer service.CloseListeners(lns)
	log, err := s.Logger(logOut, "logwriter")
	if err != nil {
		return err
	}
	log.Info().Str("version", version.Version).Msg("starting")
	conn, err := natsconn.Open(s.NATS(), "logwriter", log)
	if err != nil {
		return err
	}
	defer conn.Close()
	return service.RunLogWriter(ctx, s, conn, lns[0], log)
}
