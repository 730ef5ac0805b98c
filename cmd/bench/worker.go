package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/deliver"
	"github.com/sixtyfour-oss/webhooks/internal/logbuf"
	"github.com/sixtyfour-oss/webhooks/internal/metrics"
	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/internal/service"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// loopbackPolicy is the destination guard of every client under test: the
// secure default widened by a loopback allow-list, as an operator would
// configure WEBHOOKS_ALLOW_DESTINATIONS=127.0.0.0/8.
func loopbackPolicy() egress.Policy {
	return egress.Policy{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
}

// runner is a client under test, set up and ready to run.
type runner struct {
	run   func(ctx context.Context) error
	close func()
}

// runChild is the child side of the protocol described on child.
func runChild(ctx context.Context, specJSON string, in io.Reader, out io.Writer) error {
	var spec childSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		return fmt.Errorf("child spec: %w", err)
	}
	switch spec.Mode {
	case modeServer:
		return runServerChild(ctx, spec, in, out)
	case modeHog:
		return runHogChild(ctx, in, out)
	}
	// Every client runs with the deliverer's collector target, so that the
	// baselines differ from it only by the work they leave out.
	service.TuneGC(service.DelivererGCPercent, zerolog.Nop())
	res := childResult{GoroutinesBefore: runtime.NumGoroutine()}
	nc, err := nats.Connect(spec.NATSURL, nats.Name("bench-"+spec.Mode), nats.MaxReconnects(-1))
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return err
	}
	r, err := newRunner(ctx, spec, js)
	if err != nil {
		nc.Close()
		return fmt.Errorf("%s: %w", spec.Mode, err)
	}
	cmds := lines(in)
	fmt.Fprintln(out, "ready")
	if waitForGo(ctx, cmds) {
		if err := serve(ctx, spec, r, cmds, out); err != nil {
			res.RunError = err.Error()
		}
	}
	r.close()
	nc.Close()
	for range cmds { // until the parent closes stdin
	}
	res.GoroutinesAfter, res.LeakDump = settle(res.GoroutinesBefore, spec.LogPath)
	raw, _ := json.Marshal(res)
	fmt.Fprintf(out, "result %s\n", raw)
	return nil
}

// waitForGo reports whether the parent said "go" before closing stdin.
func waitForGo(ctx context.Context, cmds <-chan string) bool {
	for {
		select {
		case c, ok := <-cmds:
			if !ok {
				return false
			}
			if c == "go" {
				return true
			}
		case <-ctx.Done():
			return false
		}
	}
}

// serve runs r (profiled if asked) until stdin closes, answering dumps.
func serve(ctx context.Context, spec childSpec, r runner, cmds <-chan string, out io.Writer) error {
	if spec.CPUProfile != "" {
		f, err := os.Create(spec.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.run(runCtx) }()
	for {
		select {
		case c, ok := <-cmds:
			if !ok {
				cancel()
				return <-done
			}
			if path, found := strings.CutPrefix(c, "dump "); found {
				writeGoroutines(path)
				fmt.Fprintln(out, "dumped")
			}
			if path, found := strings.CutPrefix(c, "heap "); found {
				writeHeap(path)
				fmt.Fprintln(out, "dumped")
			}
		case <-ctx.Done():
			return <-done
		}
	}
}

// settle waits up to two seconds for the goroutines to come back to
// before; if they do not, it writes their dump next to logPath.
func settle(before int, logPath string) (int, string) {
	deadline := time.Now().Add(2 * time.Second)
	n := runtime.NumGoroutine()
	for ; n > before && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(20 * time.Millisecond)
	}
	if n <= before {
		return n, ""
	}
	path := strings.TrimSuffix(logPath, filepath.Ext(logPath)) + "-leak.txt"
	writeGoroutines(path)
	return n, path
}

func writeGoroutines(path string) {
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	_ = pprof.Lookup("goroutine").WriteTo(f, 2)
}

func writeHeap(path string) {
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	_ = pprof.Lookup("heap").WriteTo(f, 0)
}

// newRunner sets up the client of spec.Mode.
func newRunner(ctx context.Context, spec childSpec, js jetstream.JetStream) (runner, error) {
	switch spec.Mode {
	case modeDeliverer:
		return newDelivererRunner(ctx, spec, js)
	case modeBare:
		return newBareRunner(ctx, spec, js)
	case modeHTTP:
		return newHTTPRunner(ctx, spec, js)
	case modeJS:
		return newJSRunner(ctx, spec, js)
	}
	return runner{}, fmt.Errorf("unknown mode %q", spec.Mode)
}

// signingSecret reads benchOrg's signing secret from the secrets store
// through a secrets.Cache, once, for the baseline loops.
func signingSecret(ctx context.Context, spec childSpec, js jetstream.JetStream) (string, error) {
	kv, err := js.KeyValue(ctx, spec.Streams.SecretsBucket)
	if err != nil {
		return "", err
	}
	cache, err := secrets.NewCache(ctx, kv, secrets.DevKeyring(), time.Now)
	if err != nil {
		return "", err
	}
	defer cache.Stop()
	s, err := cache.Signing(benchOrg, time.Now())
	if err != nil {
		return "", err
	}
	if len(s) == 0 {
		return "", fmt.Errorf("%s has no signing secret", benchOrg)
	}
	return s[0], nil
}

// newDelivererRunner builds the deliverer as cmd/deliverer does
// (internal/service), with every production feature on: the guarded client
// with a loopback allow-list, signing secrets from the secrets cache,
// outcome records, metrics, and one log line per attempt at info level,
// written to a file through the same line batching.
func newDelivererRunner(ctx context.Context, spec childSpec, js jetstream.JetStream) (runner, error) {
	kv, err := js.KeyValue(ctx, spec.Streams.SecretsBucket)
	if err != nil {
		return runner{}, err
	}
	cache, err := secrets.NewCache(ctx, kv, secrets.DevKeyring(), time.Now)
	if err != nil {
		return runner{}, err
	}
	logFile, err := os.Create(spec.LogPath)
	if err != nil {
		cache.Stop()
		return runner{}, err
	}
	lines := logbuf.New(logFile, logbuf.DefaultFlushInterval)
	log := zerolog.New(lines).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	log.Warn().Msg(loopbackPolicy().String())
	client := egress.NewClient(loopbackPolicy(), egress.ClientConfig{MaxIdleConnsPerHost: spec.PerHost})
	closeAll := func() { cache.Stop(); client.CloseIdleConnections(); _ = lines.Close(); _ = logFile.Close() }
	d, err := deliver.New(ctx, js, client, cache, deliver.Config{
		Streams: spec.Streams, URLs: envelope.URLPolicy{AllowHTTP: true},
		Concurrency: spec.Workers, Prefetch: spec.Prefetch, PerHostConcurrency: spec.PerHost, MaxWaiting: spec.MaxWaiting,
		ShutdownTimeout: spec.ShutdownTimeout, Logger: &log, Metrics: metrics.NewDeliverer(service.NewRegistry()),
	})
	if err != nil {
		closeAll()
		return runner{}, err
	}
	return runner{run: d.Run, close: closeAll}, nil
}

// lines sends each line read from in on the returned channel, and closes
// it when in ends: a child's commands from its parent.
func lines(in io.Reader) <-chan string {
	out := make(chan string)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			out <- sc.Text()
		}
	}()
	return out
}
