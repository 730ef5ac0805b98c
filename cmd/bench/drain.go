package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/deliver"
	"github.com/sixtyfour-oss/webhooks/internal/egress"
	"github.com/sixtyfour-oss/webhooks/internal/embedded"
	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/internal/streams"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

type drainResult struct{ seconds float64 }

// drain publishes a backlog of o.events signed-org job events, then starts
// one deliverer and times until the sink has received them all.
func drain(ctx context.Context, o options) (drainResult, error) {
	dir, err := os.MkdirTemp("", "webhooks-bench-")
	if err != nil {
		return drainResult{}, err
	}
	defer os.RemoveAll(dir)
	srv, err := embedded.Start(embedded.Config{Port: -1, StoreDir: filepath.Join(dir, "js"), SyncAlways: o.syncAlways})
	if err != nil {
		return drainResult{}, err
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		return drainResult{}, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return drainResult{}, err
	}
	sc := streams.Config{}.WithDefaults()
	res, err := streams.Ensure(ctx, js, sc)
	if err != nil {
		return drainResult{}, err
	}
	mgr := &secrets.Manager{KV: res.Secrets, Keyring: secrets.DevKeyring()}
	if _, _, err := mgr.Create(ctx, "org_bench"); err != nil {
		return drainResult{}, err
	}

	var received atomic.Int64
	done := make(chan struct{})
	var once sync.Once
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
		if received.Add(1) == int64(o.events) {
			once.Do(func() { close(done) })
		}
	}))
	defer sink.Close()

	if err := publishBacklog(ctx, js, sc, sink.URL, o.events); err != nil {
		return drainResult{}, err
	}

	logFile, err := os.Create(filepath.Join(dir, "attempts.log"))
	if err != nil {
		return drainResult{}, err
	}
	defer logFile.Close()
	log := zerolog.New(logFile).With().Timestamp().Logger()
	cache, err := secrets.NewCache(ctx, res.Secrets, secrets.DevKeyring(), time.Now)
	if err != nil {
		return drainResult{}, err
	}
	defer cache.Stop()
	policy := egress.Policy{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	client := egress.NewClient(policy, egress.ClientConfig{MaxIdleConnsPerHost: 512})
	defer client.CloseIdleConnections()
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d, err := deliver.New(dctx, js, client, cache, deliver.Config{
		Streams: sc, URLs: envelope.URLPolicy{AllowHTTP: true}, Concurrency: o.concurrency, Prefetch: o.prefetch,
		PerHostConcurrency: o.concurrency, Logger: &log,
	})
	if err != nil {
		return drainResult{}, err
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return drainResult{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return drainResult{}, err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	runDone := make(chan error, 1)
	go func() { runDone <- d.Run(dctx) }()
	select {
	case <-done:
	case <-ctx.Done():
		return drainResult{}, ctx.Err()
	case <-time.After(10 * time.Minute):
		return drainResult{}, fmt.Errorf("drain stalled at %d of %d", received.Load(), o.events)
	}
	elapsed := time.Since(start)
	cancel()
	<-runDone
	return drainResult{seconds: elapsed.Seconds()}, nil
}

// publishBacklog stores n job events with async publishes.
func publishBacklog(ctx context.Context, js jetstream.JetStream, sc streams.Config, url string, n int) error {
	for i := 0; i < n; i++ {
		req, err := envelope.NewJobRequest(time.Now(), "org_bench", url, envelope.JobResult{
			TaskID: fmt.Sprintf("task-%d", i), Status: envelope.StatusCompleted, TaskType: "find_email",
			Result: []byte(`{"name":"John Doe","company":"Acme Inc","email":[["john.doe@acme.com","OK"]],"notes":"` + pad + `"}`),
		})
		if err != nil {
			return err
		}
		data, err := req.Encode()
		if err != nil {
			return err
		}
		msg := nats.NewMsg(sc.DeliverSubject(req.OrgID, req.Source))
		msg.Data = data
		msg.Header.Set(nats.MsgIdHdr, req.EventID)
		if _, err := js.PublishMsgAsync(msg); err != nil {
			return err
		}
		if i%4096 == 4095 {
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pad brings a job body to about 1 KiB.
var pad = func() string {
	b := make([]byte, 850)
	for i := range b {
		b[i] = 'x'
	}
	return string(b)
}()
