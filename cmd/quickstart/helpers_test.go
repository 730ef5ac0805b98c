package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
)

// fast is the retry schedule of the tests' demos.
const fast = "50ms,50ms,50ms,50ms,50ms"

// freePorts are the flags that make a demo listen on free ports only.
var freePorts = []string{"-nats-port", "-1", "-receiver", "127.0.0.1:0", "-publisher", "127.0.0.1:0", "-ops", "127.0.0.1:0", "-console", "127.0.0.1:0"}

// running is a quickstart started in the background.
type running struct {
	out    *jstest.LogBuffer
	cancel context.CancelFunc
	done   chan error
}

// start runs the quickstart with args and defaults d until the test ends
// or stop is called.
func start(t *testing.T, d defaults, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	r := &running{out: &jstest.LogBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- runWith(ctx, args, r.out, d) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// waitFor waits until the output contains s; the quickstart ending first
// fails the test.
func (r *running) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for !r.out.Contains(s) {
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("the quickstart ended (%v) before printing %q:\n%s", err, s, r.out)
		case <-deadline:
			t.Fatalf("timed out waiting for %q:\n%s", s, r.out)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop cancels the quickstart and returns its error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("the quickstart did not stop within 30s of its context")
		return nil
	}
}

// field returns the first word after label on the output line that starts
// with two spaces and label (a banner line such as "  publisher  URL").
func field(t *testing.T, out, label string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "  "+label+" "); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0]
			}
		}
	}
	t.Fatalf("no %q line in:\n%s", label, out)
	return ""
}

// occupy listens on a free loopback port until the test ends, so that
// the port is taken.
func occupy(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}
