package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/natsconn"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// broker serves only the broker (-broker): the embedded JetStream server
// with the pipeline's streams, consumers and buckets under their default
// names, for a deliverer, log writer and publisher started separately with
// NATS_URL. It removes the consumers a full quickstart left in the data
// directory first (they would keep the default ones from being created).
// It runs until ctx ends, or with -exit returns once the streams exist.
func broker(ctx context.Context, o options, out io.Writer) error {
	var c config.Common
	if err := config.Load(&c); err != nil {
		return err
	}
	if c.URL != "" {
		return usageError{fmt.Errorf("-broker starts its own JetStream server; unset NATS_URL (%s) to use it", c.URL)}
	}
	if err := os.MkdirAll(o.storeDir, 0o755); err != nil {
		return err
	}
	unlock, err := lockDataDir(o.storeDir)
	if err != nil {
		return err
	}
	defer unlock()
	port, taken, err := embeddedPort(o.natsPort, o.explicit["nats-port"])
	if err != nil {
		return err
	}
	logPath := filepath.Join(o.storeDir, o.logFile)
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	log, err := c.Logger(logFile, "quickstart-broker")
	if err != nil {
		return err
	}
	c.EmbeddedPort, c.EmbeddedStoreDir = port, o.storeDir
	conn, err := natsconn.Open(c.NATS(), "quickstart-broker", log)
	if err != nil {
		return err
	}
	defer conn.Close()
	sc := c.Streams()
	removed, err := removeOwnConsumers(ctx, conn.JS, sc)
	if err != nil {
		return err
	}
	if _, err := streams.Ensure(ctx, conn.JS, sc); err != nil {
		return err
	}
	url := conn.Embedded.ClientURL()
	note := ""
	if taken != "" {
		note = "; " + taken + " was taken"
	}
	fmt.Fprintf(out, "Sixtyfour webhooks broker (quickstart -broker)\n")
	fmt.Fprintf(out, "  JetStream  %s (embedded, data in %s%s)\n", url, o.storeDir, note)
	fmt.Fprintf(out, "  streams    %s, %s, %s; buckets %s, %s\n", sc.DeliverStream, sc.UndeliveredStream, sc.AttemptsStream,
		sc.SecretsBucket, sc.ResultsBucket)
	fmt.Fprintf(out, "  consumers  %s, %s, %s (for the processes you start)\n", sc.Consumer, sc.WaiterConsumer, sc.LogConsumer)
	fmt.Fprintf(out, "  logs       %s\n", logPath)
	if len(removed) > 0 {
		fmt.Fprintf(out, "  removed    %s, left by a full quickstart (its pending events stay on %s)\n",
			strings.Join(removed, ", "), sc.DeliverStream)
	}
	if o.exit {
		return nil
	}
	fmt.Fprintf(out, "\nOnly the broker runs (Ctrl-C stops it). In other terminals, point the processes at it:\n\n"+
		"  export NATS_URL=%s\n", url)
	<-ctx.Done()
	return nil
}
