package deliver

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Settings of the recorder.
const (
	// recordTimeout bounds the wait for the server's ack of one attempt
	// record published by the recorder; after it the record is written
	// again synchronously (writeRecord), within Config.OutcomeRecordBudget.
	recordTimeout = 2 * time.Second
	// recordBatch is the most records the recorder publishes before it
	// waits for their acks.
	recordBatch = 256
)

// finished is a message whose attempt is decided: its attempt record must
// be stored before its JetStream action (Ack, NakWithDelay or Term) runs.
type finished struct {
	msg     jetstream.Msg
	eventID string
	// record is the attempt record as a message for WEBHOOKS_ATTEMPTS.
	record *nats.Msg
	// act is the message's one JetStream action.
	act  func()
	stop func() // stops the message's heartbeat; nil when it has none
}

// recorder writes the attempt records of finished messages, then runs
// their actions, many at a time: it publishes every record that is waiting
// without waiting for the server in between, then takes the acks in order
// and runs each message's action once its record is stored. Records and
// acks leave in a few large writes instead of one small write and one
// round trip each. The order of the two steps is kept for each message: a
// message is acked, nak'ed or terminated only after its record is stored
// (or could not be stored within Config.OutcomeRecordBudget, which is
// logged and counted), so a crash in between repeats the attempt rather
// than losing its record. A message keeps its worker slot until its action
// ran (Deliverer.done), so Concurrency also bounds what a crash or a
// leader change can leave decided but not acted on.
type recorder struct {
	d       *Deliverer
	js      jetstream.JetStream // publishes with recordTimeout
	in      chan finished
	out     chan struct{}  // closed when run returns
	retries sync.WaitGroup // records being written again
}

func newRecorder(d *Deliverer, nc *nats.Conn, queue int) (*recorder, error) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(recordTimeout),
		jetstream.WithPublishAsyncMaxPending(2*recordBatch))
	if err != nil {
		return nil, fmt.Errorf("deliver: attempt recorder: %w", err)
	}
	return &recorder{d: d, js: js, in: make(chan finished, queue), out: make(chan struct{})}, nil
}

// add queues a finished message; it waits while the queue is full.
func (r *recorder) add(e finished) { r.in <- e }

// close ends the queue; run returns once every queued message is done.
func (r *recorder) close() { close(r.in) }

// run writes records and acts on messages until the queue is closed and
// empty. ctx bounds the synchronous retries of records that failed.
func (r *recorder) run(ctx context.Context) {
	defer close(r.out)
	defer r.retries.Wait()
	batch := make([]finished, 0, recordBatch)
	futures := make([]jetstream.PubAckFuture, 0, recordBatch)
	for {
		e, ok := <-r.in
		if !ok {
			return
		}
		batch = append(batch[:0], e)
	fill:
		for len(batch) < recordBatch {
			select {
			case e, ok := <-r.in:
				if !ok {
					break fill // the closed queue ends run at the next receive
				}
				batch = append(batch, e)
			default:
				break fill
			}
		}
		futures = r.write(ctx, batch, futures[:0])
	}
}

// write publishes the batch's records, then runs each message's action
// once its record is stored; a record the server did not acknowledge is
// written again synchronously.
func (r *recorder) write(ctx context.Context, batch []finished, futures []jetstream.PubAckFuture) []jetstream.PubAckFuture {
	for _, e := range batch {
		f, err := r.js.PublishMsgAsync(e.record)
		if err != nil {
			f = nil
		}
		futures = append(futures, f)
	}
	for i, e := range batch {
		stored := false
		if f := futures[i]; f != nil {
			select {
			case <-f.Ok():
				stored = true
			case <-f.Err():
			}
		}
		futures[i] = nil
		if !stored {
			// Written again on the side, so that a failing store (a leader
			// election, a missing stream) does not hold the actions of the
			// messages whose records were stored.
			r.retries.Go(func() {
				r.d.writeRecord(ctx, e.record, e.eventID)
				r.act(e)
			})
			continue
		}
		r.act(e)
	}
	return futures
}

// act runs the action of a message whose record is written (or given up
// on), stops its heartbeat and frees its worker slot.
func (r *recorder) act(e finished) {
	e.act()
	if e.stop != nil {
		e.stop()
	}
	r.d.done()
}
