package attemptlog_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/attemptlog"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// Read returns an event's attempt records from the attempt stream, oldest
// first, without waiting for the log writer. Here the example writes the
// records itself, as a deliverer does after each attempt.
func ExampleRead() {
	js, stop, err := jetStream()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sc := streams.Config{}.WithDefaults()
	if _, err := streams.Ensure(ctx, js, sc); err != nil {
		fmt.Println(err)
		return
	}

	eventID, err := envelope.NewEventID()
	if err != nil {
		fmt.Println(err)
		return
	}
	queued := time.Now().UTC()
	for i, status := range []int{503, 200} {
		started := queued.Add(time.Duration(i) * time.Second)
		rec := &envelope.AttemptRecord{
			V: 1, EventID: eventID, OrgID: "org_456", Source: envelope.SourceJob, EventType: "find_email",
			Host: "your-server.com", Attempt: i + 1, QueuedAt: queued, StartedAt: started,
			FinishedAt: started.Add(40 * time.Millisecond), DurationMS: 40, Sent: true, StatusCode: status,
			Decision: envelope.DecisionRetry, RetryDelayMS: 1000, State: envelope.StateRetrying,
		}
		if status == 200 {
			rec.Decision, rec.RetryDelayMS, rec.State, rec.Final = envelope.DecisionDelivered, 0, envelope.StateDelivered, true
		}
		msg, err := sc.AttemptMsg(rec)
		if err != nil {
			fmt.Println(err)
			return
		}
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			fmt.Println(err)
			return
		}
	}

	recs, err := attemptlog.Read(ctx, js, sc, attemptlog.Event{OrgID: "org_456", EventID: eventID})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range recs {
		fmt.Println("attempt", r.Attempt, r.StatusCode, r.Decision, r.State)
	}
	// Output:
	// attempt 1 503 retry retrying
	// attempt 2 200 delivered delivered
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
