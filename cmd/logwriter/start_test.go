package main

import (
	"bytes"
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

// Every setting is checked before anything starts: the error names every
// bad one, the status is 2, and neither the embedded server's store nor the
// delivery log was created.
func TestEveryBadSettingAtOnce(t *testing.T) {
	dir := t.TempDir()
	store, logFile := filepath.Join(dir, "nats"), filepath.Join(dir, "deliveries.db")
	bad := map[string]string{
		"LOG_RETENTION": "1m", "LOG_WRITER_BATCH": "0", "LOG_PRUNE_INTERVAL": "hourly", "LOG_WRITER_OPS_ADDR": "localhost",
		"STREAMS_REPLICAS": "9", "STREAMS_ATTEMPTS_MAX_AGE": "never", "NATS_CERT": filepath.Join(dir, "client.pem"),
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "LOGWRITER_TEST_CHILD=1", "NATS_URL=", "NATS_EMBEDDED_STORE_DIR="+store,
		"NATS_EMBEDDED_PORT=-1", "LOG_STORE_URL=sqlite:"+logFile)
	for k, v := range bad {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Errorf("exit = %v, want status 2\n%s", err, stderr.String())
	}
	for name := range bad {
		if !strings.Contains(stderr.String(), name) {
			t.Errorf("%s is not named:\n%s", name, stderr.String())
		}
	}
	for _, path := range []string{store, logFile} {
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was created (stat: %v)", path, err)
		}
	}
	if strings.Contains(stderr.String(), `"level":`) {
		t.Errorf("the writer started before failing:\n%s", stderr.String())
	}
}

// An ops address in use stops the writer before it connects or opens the
// delivery log, naming LOG_WRITER_OPS_ADDR and its value.
func TestOpsAddrInUse(t *testing.T) {
	setEnv(t)
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	logFile := filepath.Join(t.TempDir(), "deliveries.db")
	t.Setenv("LOG_STORE_URL", "sqlite:"+logFile)
	t.Setenv("LOG_WRITER_OPS_ADDR", held.Addr().String())
	var logs jstest.LogBuffer
	err = run(jstest.Context(t, 30*time.Second), &logs)
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "LOG_WRITER_OPS_ADDR="+held.Addr().String()) {
		t.Errorf("error = %v, want one naming LOG_WRITER_OPS_ADDR=%s (address in use)", err, held.Addr())
	}
	if _, err := os.Stat(logFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the delivery log %s was created (stat: %v)", logFile, err)
	}
	if logs.Contains(`"level":`) {
		t.Errorf("the writer started before failing:\n%s", logs.String())
	}
}
