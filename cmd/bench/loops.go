package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/deliver"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

// The baselines' client loops. They use the deliverer's HTTP client
// settings (egress.NewClient, the loopback allow-list, as many idle
// connections as workers) and nothing else of it.

// newHTTPRunner is baseline A: workers POST spec.Count signed job bodies
// of about 1 KiB to the sink, no JetStream (which is used only to read the
// signing secret before the run).
func newHTTPRunner(ctx context.Context, spec childSpec, js jetstream.JetStream) (runner, error) {
	secret, err := signingSecret(ctx, spec, js)
	if err != nil {
		return runner{}, err
	}
	body, err := (&envelope.JobResult{TaskID: "task-a", Status: envelope.StatusCompleted, TaskType: "find_email", Result: jobResult}).Body()
	if err != nil {
		return runner{}, err
	}
	client := egress.NewClient(loopbackPolicy(), egress.ClientConfig{MaxIdleConnsPerHost: spec.PerHost})
	run := func(ctx context.Context) error {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range spec.Workers {
			wg.Go(func() {
				for i := next.Add(1); i <= int64(spec.Count) && ctx.Err() == nil; i = next.Add(1) {
					_ = post(ctx, client, spec.URL, secret, "a-"+strconv.FormatInt(i, 10), body)
				}
			})
		}
		wg.Wait()
		<-ctx.Done()
		return nil
	}
	return runner{run: run, close: client.CloseIdleConnections}, nil
}

// post signs body with a fresh timestamp and POSTs it; it reports whether
// the answer was 2xx.
func post(ctx context.Context, client *http.Client, url, secret, eventID string, body []byte) bool {
	now := time.Now()
	ctx, cancel := context.WithTimeout(ctx, envelope.DefaultTimeoutSeconds*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(deliver.HeaderEventID, eventID)
	req.Header.Set(sign.HeaderName, sign.Header(now.Unix(), body, secret))
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, deliver.DefaultBodyDrainLimit))
	_ = resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode <= 299
}

// newBareRunner is baseline C, the simplest correct loop: pull from the
// work-queue consumer, decode the request, sign (with the secret read once
// from the store), POST, then Ack on 2xx or NakWithDelay otherwise. No outcomes, no logging, no per-host limits, no
// heartbeats; spec.Workers workers.
func newBareRunner(ctx context.Context, spec childSpec, js jetstream.JetStream) (runner, error) {
	cons, err := js.Consumer(ctx, spec.Streams.DeliverStream, spec.Streams.Consumer)
	if err != nil {
		return runner{}, err
	}
	secret, err := signingSecret(ctx, spec, js)
	if err != nil {
		return runner{}, err
	}
	client := egress.NewClient(loopbackPolicy(), egress.ClientConfig{MaxIdleConnsPerHost: spec.PerHost})
	urls := envelope.URLPolicy{AllowHTTP: true}
	run := func(ctx context.Context) error {
		msgs := make(chan jetstream.Msg)
		var wg sync.WaitGroup
		for range spec.Workers {
			wg.Go(func() {
				for m := range msgs {
					deliverBare(ctx, client, urls, secret, m)
				}
			})
		}
		err := pullEach(ctx, cons, spec.Prefetch, func(m jetstream.Msg) { msgs <- m })
		close(msgs)
		wg.Wait()
		return err
	}
	return runner{run: run, close: client.CloseIdleConnections}, nil
}

func deliverBare(ctx context.Context, client *http.Client, urls envelope.URLPolicy, secret string, m jetstream.Msg) {
	req, err := envelope.Decode(m.Data(), urls)
	if err != nil {
		_ = m.Term()
		return
	}
	body, err := req.Body(1, time.Now())
	if err != nil {
		_ = m.Term()
		return
	}
	if post(ctx, client, req.URL, secret, req.EventID, body) {
		_ = m.Ack()
		return
	}
	_ = m.NakWithDelay(time.Second)
}

// newJSRunner is baseline B: pull from the consumer and Ack each message,
// one goroutine, no HTTP.
func newJSRunner(ctx context.Context, spec childSpec, js jetstream.JetStream) (runner, error) {
	cons, err := js.Consumer(ctx, spec.Streams.DeliverStream, spec.Streams.Consumer)
	if err != nil {
		return runner{}, err
	}
	run := func(ctx context.Context) error {
		return pullEach(ctx, cons, spec.Prefetch, func(m jetstream.Msg) { _ = m.Ack() })
	}
	return runner{run: run, close: func() {}}, nil
}

// pullEach hands every message of a Messages pull with a buffer of
// prefetch to handle until ctx ends. When Next fails (for example with
// ErrNoHeartbeat after a pull went silent) it re-creates the pull, as the
// deliverer does; it returns nil once ctx ends.
func pullEach(ctx context.Context, cons jetstream.Consumer, prefetch int, handle func(jetstream.Msg)) error {
	for ctx.Err() == nil {
		it, err := cons.Messages(jetstream.PullMaxMessages(prefetch))
		if err != nil {
			return err
		}
		for {
			m, err := it.Next(jetstream.NextContext(ctx))
			if err != nil {
				break
			}
			handle(m)
		}
		it.Stop()
		select { // do not spin if the pull fails at once
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}
