package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// TestMain lets a test run this binary's main as a child process: the
// real signal handling, configuration and shutdown.
func TestMain(m *testing.M) {
	if os.Getenv("DELIVERER_TEST_CHILD") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// child starts the deliverer as a process with env added to the test's.
func child(t *testing.T, env ...string) (*exec.Cmd, *lineLog) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), append([]string{"DELIVERER_TEST_CHILD=1"}, env...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := &lineLog{done: make(chan struct{})}
	go logs.read(stderr)
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, logs
}

// lineLog collects a child's log lines.
type lineLog struct {
	mu    sync.Mutex
	lines []string
	done  chan struct{} // closed at the end of the child's stderr
}

// exit waits for the child to end (its log read to the end) and returns
// its exit error.
func exit(t *testing.T, cmd *exec.Cmd, l *lineLog, within time.Duration) error {
	t.Helper()
	select {
	case <-l.done:
	case <-time.After(within):
		t.Fatalf("child did not exit within %v\n%s", within, l)
	}
	return cmd.Wait()
}

func (l *lineLog) read(r io.Reader) {
	defer close(l.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l.mu.Lock()
		l.lines = append(l.lines, sc.Text())
		l.mu.Unlock()
	}
}

func (l *lineLog) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func get(t *testing.T, url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSIGTERMDuringBurstLosesNothing(t *testing.T) {
	s := jstest.Server(t)
	_, js := jstest.Connect(t, s)
	ctx := jstest.Context(t, 90*time.Second)
	if _, err := streams.Ensure(ctx, js, streams.Config{AckWait: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond) // a receiver that takes a moment, so attempts are in flight
		mu.Lock()
		got[r.Header.Get("Sixtyfour-Event-Id")]++
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(sink.Close)
	received := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }

	env := []string{"NATS_URL=" + s.ClientURL(), "WEBHOOKS_ALLOW_DESTINATIONS=127.0.0.1", "WEBHOOKS_UNSAFE_ALLOW_HTTP=true",
		"WEBHOOKS_DEV_MODE=true", "STREAMS_ACK_WAIT=2s", "DELIVERER_CONCURRENCY=16", "DELIVERER_PREFETCH=16",
		"DELIVERER_OPS_ADDR=127.0.0.1:0", "LOG_LEVEL=info"}

	allow, _ := egress.ParseAllowList("127.0.0.1")
	pub := publish.New(js, publish.Config{URLs: envelope.URLPolicy{AllowHTTP: true}, Destinations: allow})
	const n = 3000
	for i := range n {
		if _, err := pub.PublishJob(ctx, "org_1", sink.URL, envelope.JobResult{
			TaskID: fmt.Sprint("t", i), Status: envelope.StatusFailed, TaskType: "find_email", Error: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	// The backlog is in place before the deliverer starts, so that the
	// SIGTERM lands in the middle of it however fast the machine is.
	first, logs := child(t, env...)
	jstest.Eventually(t, 30*time.Second, func() bool { return received() >= n/10 }, "a tenth delivered\n%s", logs)
	if err := first.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := exit(t, first, logs, 40*time.Second); err != nil {
		t.Fatalf("deliverer exited with %v after SIGTERM\n%s", err, logs)
	}
	if !logs.contains("deliverer stopped") {
		t.Errorf("no clean shutdown in the log:\n%s", logs)
	}
	atStop := received()
	t.Logf("delivered %d of %d before SIGTERM took effect", atStop, n)
	if atStop >= n {
		t.Fatalf("burst finished before SIGTERM; make it larger")
	}

	child(t, env...)
	jstest.Eventually(t, 60*time.Second, func() bool { return received() == n }, "every event delivered after restart (got %d)", received())
	dup := 0
	mu.Lock()
	for _, c := range got {
		dup += c - 1
	}
	mu.Unlock()
	t.Logf("%d events delivered, %d duplicates", n, dup)
}

func TestOpsEndpoints(t *testing.T) {
	s := jstest.Server(t)
	port := freePort(t)
	_, logs := child(t, "NATS_URL="+s.ClientURL(), "WEBHOOKS_DEV_MODE=true", "DELIVERER_OPS_ADDR=127.0.0.1:"+port)
	base := "http://127.0.0.1:" + port
	jstest.Eventually(t, 10*time.Second, func() bool { c, _ := get(t, base+"/readyz"); return c == 200 }, "ready\n%s", logs)
	if c, _ := get(t, base+"/healthz"); c != 200 {
		t.Errorf("/healthz = %d", c)
	}
	_, body := get(t, base+"/metrics")
	for _, series := range []string{
		"webhooks_attempts_in_flight", "webhooks_attempts_waiting_for_host", "webhooks_consumer_pending_messages",
		"webhooks_consumer_ack_pending_messages", "webhooks_undelivered_messages", "webhooks_jetstream_up 1",
		"webhooks_attempt_record_errors_total", "go_goroutines", "process_resident_memory_bytes",
		`webhooks_deliveries_total{outcome="delivered",source="job"}`, `webhooks_deliveries_total{outcome="dead_letter",source="workflow"}`,
		`webhooks_attempt_duration_seconds_count{result="timeout"}`, "webhooks_circuits_open", `webhooks_circuit_transitions_total{to="open"}`,
		"webhooks_pull_restarts_total", "webhooks_consumer_redelivered_messages",
	} {
		if !strings.Contains(body, series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
}

func TestRefusesToStartWithoutMasterKey(t *testing.T) {
	s := jstest.Server(t)
	cmd, logs := child(t, "NATS_URL="+s.ClientURL(), "WEBHOOKS_MASTER_KEY=", "WEBHOOKS_DEV_MODE=false", "DELIVERER_OPS_ADDR=")
	if err := exit(t, cmd, logs, 10*time.Second); err == nil {
		t.Fatal("deliverer started without a master key")
	}
	if !logs.contains("WEBHOOKS_MASTER_KEY is not set") {
		t.Errorf("error does not name WEBHOOKS_MASTER_KEY:\n%s", logs)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}
