package main

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
)

// exitStatus waits for the child and returns its exit status.
func exitStatus(t *testing.T, cmd *exec.Cmd, l *lineLog, within time.Duration) int {
	t.Helper()
	err := exit(t, cmd, l, within)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("child: %v\n%s", err, l)
	}
	return 0
}

// embeddedEnv is a deliverer environment without NATS_URL: the embedded
// server on a free port with its store in a fresh directory (which must
// not exist until the server starts), and the ops endpoint on a free port.
func embeddedEnv(t *testing.T) (store string, env []string) {
	t.Helper()
	store = filepath.Join(t.TempDir(), "nats")
	return store, []string{"NATS_URL=", "NATS_EMBEDDED_STORE_DIR=" + store, "NATS_EMBEDDED_PORT=" + freePort(t),
		"DELIVERER_OPS_ADDR=127.0.0.1:" + freePort(t), "LOG_LEVEL=info"}
}

// startedNothing checks that the child logged nothing (it logs from the
// moment it starts) and created no embedded server store.
func startedNothing(t *testing.T, logs *lineLog, store string) {
	t.Helper()
	if logs.contains(`"level":`) {
		t.Errorf("the deliverer started before failing:\n%s", logs)
	}
	if _, err := os.Stat(store); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the embedded server's store %s was created (stat: %v)", store, err)
	}
}

// Every setting is checked before anything starts: a wrong one, or
// several, exit with status 2 naming each, with no embedded server started
// and nothing listening.
func TestBadSettingsStartNothing(t *testing.T) {
	tests := []struct {
		name  string
		env   []string
		named []string
	}{
		{"no master key", []string{"WEBHOOKS_MASTER_KEY=", "WEBHOOKS_DEV_MODE=false"}, []string{"WEBHOOKS_MASTER_KEY"}},
		{"malformed master key", []string{"WEBHOOKS_MASTER_KEY=k1:short"}, []string{"WEBHOOKS_MASTER_KEY"}},
		{"every kind at once", []string{
			"WEBHOOKS_MASTER_KEY=k1:short", "STREAMS_REPLICAS=three", "STREAMS_ACK_WAIT=1ms", "RETRY_SCHEDULE=soon",
			"DELIVERER_CONCURRENCY=0", "DELIVERER_OPS_ADDR=9090", "WEBHOOKS_DOWNLOAD_KEY=c2hvcnQ=", "LOG_LEVEL=loud",
			"NATS_EMBEDDED_PORT=70000", "WEBHOOKS_ALLOW_DESTINATIONS=not a cidr/99",
		}, []string{"WEBHOOKS_MASTER_KEY", "STREAMS_REPLICAS", "STREAMS_ACK_WAIT", "RETRY_SCHEDULE", "DELIVERER_CONCURRENCY",
			"DELIVERER_OPS_ADDR", "WEBHOOKS_DOWNLOAD_KEY", "LOG_LEVEL", "NATS_EMBEDDED_PORT", "WEBHOOKS_ALLOW_DESTINATIONS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, env := embeddedEnv(t)
			cmd, logs := child(t, append(env, tt.env...)...)
			if code := exitStatus(t, cmd, logs, 20*time.Second); code != 2 {
				t.Errorf("exit status %d, want 2\n%s", code, logs)
			}
			for _, name := range tt.named {
				if !logs.contains(name) {
					t.Errorf("%s is not named:\n%s", name, logs)
				}
			}
			startedNothing(t, logs, store)
		})
	}
}

// An address in use (the ops endpoint's, or the embedded server's port)
// stops the deliverer before it starts, naming the setting and its value.
func TestAddressInUseStartsNothing(t *testing.T) {
	for _, setting := range []string{"DELIVERER_OPS_ADDR", "NATS_EMBEDDED_PORT"} {
		t.Run(setting, func(t *testing.T) {
			held, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			value := held.Addr().String()
			if setting == "NATS_EMBEDDED_PORT" {
				_, value, _ = net.SplitHostPort(value)
			}
			store, env := embeddedEnv(t)
			cmd, logs := child(t, append(env, "WEBHOOKS_DEV_MODE=true", setting+"="+value)...)
			if code := exitStatus(t, cmd, logs, 20*time.Second); code != 1 {
				t.Errorf("exit status %d, want 1\n%s", code, logs)
			}
			if !logs.contains(setting + "=" + value) {
				t.Errorf("the error does not name %s=%s:\n%s", setting, value, logs)
			}
			if _, err := os.Stat(store); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the embedded server's store %s was created (stat: %v)", store, err)
			}
			if logs.contains("listening") {
				t.Errorf("something listened:\n%s", logs)
			}
		})
	}
}

// A clean run warns once about each unsafe setting that is on, and a clean
// shutdown warns about nothing (the disconnect from NATS is deliberate).
func TestCleanRunWarnsOnceAndExitsQuietly(t *testing.T) {
	s := jstest.Server(t)
	port := freePort(t)
	cmd, logs := child(t, "NATS_URL="+s.ClientURL(), "WEBHOOKS_DEV_MODE=true", "WEBHOOKS_MASTER_KEY=",
		"WEBHOOKS_ALLOW_DESTINATIONS=127.0.0.1", "WEBHOOKS_UNSAFE_ALLOW_HTTP=true", "DELIVERER_OPS_ADDR=127.0.0.1:"+port, "LOG_LEVEL=info")
	jstest.Eventually(t, 10*time.Second, func() bool { c, _ := get(t, "http://127.0.0.1:"+port+"/readyz"); return c == 200 }, "ready\n%s", logs)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := exitStatus(t, cmd, logs, 40*time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGTERM\n%s", code, logs)
	}
	warned := map[string]int{}
	for _, line := range strings.Split(logs.String(), "\n") {
		var l struct{ Level, Message, Setting string }
		if json.Unmarshal([]byte(line), &l) != nil || l.Level != "warn" {
			continue
		}
		if l.Setting == "" {
			t.Errorf("a clean run warned: %s", line)
			continue
		}
		warned[l.Setting]++
	}
	for _, setting := range []string{"WEBHOOKS_ALLOW_DESTINATIONS", "WEBHOOKS_UNSAFE_ALLOW_HTTP", "WEBHOOKS_DEV_MODE"} {
		if warned[setting] != 1 {
			t.Errorf("%d warnings about %s, want 1\n%s", warned[setting], setting, logs)
		}
	}
}
