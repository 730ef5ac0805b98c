package results_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/results"
)

// A workflow engine stores the previous block's CSV under the run's key
// before it publishes the run with include_csv_download_link; the download
// server reads it back through OpenBucket, one chunk at a time.
func ExamplePut() {
	js, stop, err := jetStream()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateOrUpdateObjectStore(ctx, results.BucketConfig("", 1)); err != nil { // streams.Ensure does this
		fmt.Println(err)
		return
	}
	bucket, err := results.OpenBucket(ctx, js, "")
	if err != nil {
		fmt.Println(err)
		return
	}

	key := results.CSVKey("org_456", "run_xyz789", "blk_2")
	if err := results.Put(ctx, bucket, key, strings.NewReader("name,email\nJohn Doe,john@acme.com\n"), "text/csv"); err != nil {
		fmt.Println(err)
		return
	}
	obj, err := bucket.Get(ctx, key)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer obj.Close()
	csv, err := io.ReadAll(obj)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(key)
	fmt.Print(string(csv))
	fmt.Println(results.RowsKey("org_456", "run/../x"))
	// Output:
	// org_456/run_xyz789/blk_2.csv
	// name,email
	// John Doe,john@acme.com
	// org_456/run%2F..%2Fx/results.json
}

// jetStream starts a throwaway JetStream server with its store in a
// temporary directory, so that the example runs anywhere; in production,
// connect to your cluster with nats.Connect instead. stop closes the
// connection, stops the server and removes the store.
func jetStream() (js jetstream.JetStream, stop func(), err error) {
	dir, err := os.MkdirTemp("", "webhooks-example-")
	if err != nil {
		return nil, nil, err
	}
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, err
	}
	ns.Start()
	stopServer := func() { ns.Shutdown(); ns.WaitForShutdown(); _ = os.RemoveAll(dir) }
	if !ns.ReadyForConnections(10 * time.Second) {
		stopServer()
		return nil, nil, errors.New("the JetStream server did not start")
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		stopServer()
		return nil, nil, err
	}
	if js, err = jetstream.New(nc); err != nil {
		nc.Close()
		stopServer()
		return nil, nil, err
	}
	return js, func() { nc.Close(); stopServer() }, nil
}
