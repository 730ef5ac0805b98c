package deliver

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
)

// waiterConcurrency bounds the Object Store checks in flight.
const waiterConcurrency = 16

// runWaiter holds workflow events parked while their CSV is missing: it
// checks the results store every Links.Poll and, once the CSV is there or
// the wait is over, puts the event back on its deliver subject, where its
// first attempt starts (attempt 1: waiting never counts as an attempt).
func (d *Deliverer) runWaiter(ctx context.Context) {
	cons, err := d.js.Consumer(ctx, d.cfg.Streams.DeliverStream, d.cfg.Streams.WaiterConsumer)
	if err != nil {
		d.log.Error().Err(err).Msg("link waiter: cannot bind its consumer; events waiting for a CSV stay parked")
		return
	}
	sem := make(chan struct{}, waiterConcurrency)
	for ctx.Err() == nil {
		it, err := cons.Messages(jetstream.PullMaxMessages(waiterConcurrency))
		if err != nil {
			retry.Pause(ctx, time.Second)
			continue
		}
		for {
			msg, err := d.next(ctx, it)
			if err != nil {
				break
			}
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				d.checkWaiting(ctx, msg)
			}()
		}
		it.Stop()
	}
}

// checkWaiting looks once at a parked event.
func (d *Deliverer) checkWaiting(ctx context.Context, msg jetstream.Msg) {
	req, err := envelope.Decode(msg.Data(), d.cfg.URLs)
	if err == nil {
		plan, perr := d.planLink(ctx, req, d.cfg.Now())
		if perr == nil && plan == linkWait {
			_ = msg.NakWithDelay(d.cfg.Links.Poll)
			return
		}
	}
	// Ready, given up, or undecodable (the deliverer dead-letters that):
	// back to the deliver subject.
	out := nats.NewMsg(deliverSubjectOf(d.cfg.Streams.SubjectPrefix, msg.Subject()))
	out.Data = msg.Data()
	out.Header = copyReplay(msg.Headers())
	id := "seq-" + subjectSeq(msg)
	if req != nil {
		id = req.EventID
	}
	replay := out.Header.Get(HeaderReplay)
	out.Header.Set(nats.MsgIdHdr, id+":linked:"+replay)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := d.js.PublishMsg(pctx, out); err != nil {
		d.log.Warn().Err(err).Str("event_id", id).Msg("link waiter: cannot requeue; retrying")
		_ = msg.NakWithDelay(d.cfg.Links.Poll)
		return
	}
	_ = msg.Ack()
}

// deliverSubjectOf maps <prefix>.waiting.<org>.<source> to
// <prefix>.deliver.<org>.<source>.
func deliverSubjectOf(prefix, waiting string) string {
	return prefix + ".deliver." + strings.TrimPrefix(waiting, prefix+".waiting.")
}

func subjectSeq(msg jetstream.Msg) string {
	if meta, err := msg.Metadata(); err == nil {
		return strconv.FormatUint(meta.Sequence.Stream, 10)
	}
	return "0"
}

func itoa(n int) string { return strconv.Itoa(n) }
