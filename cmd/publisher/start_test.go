package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
)

// Serve checks every setting before anything starts: one error names every
// bad one, the exit status is 2, and no embedded server was started.
func TestServeReportsEveryBadSetting(t *testing.T) {
	store := filepath.Join(t.TempDir(), "nats")
	bad := map[string]string{
		"PUBLISHER_TOKENS": "", "PUBLISHER_MAX_BODY_BYTES": "lots", "PUBLISHER_INLINE_RESULTS_LIMIT": "0",
		"PUBLISHER_LISTEN_ADDR": "8080", "PUBLISHER_OPS_ADDR": "127.0.0.1:99999", "PUBLISHER_DOWNLOAD_ADDR": "127.0.0.1:0",
		"PUBLISHER_ADMIN_TOKENS": "adm_1", "STREAMS_REPLICAS": "7", "LOG_LEVEL": "loud", "LOG_RETENTION": "1m",
	}
	vars := map[string]string{"NATS_URL": "", "NATS_EMBEDDED_STORE_DIR": store, "NATS_EMBEDDED_PORT": "-1"}
	for k, v := range bad {
		vars[k] = v
	}
	setEnv(t, vars)
	var stderr jstest.LogBuffer
	err := run(context.Background(), []string{"serve"}, nil, io.Discard, &stderr)
	if code := exitCode(err, io.Discard); code != 2 {
		t.Errorf("exit code = %d, want 2 (err %v)", code, err)
	}
	for name := range bad {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s is not named in: %v", name, err)
		}
	}
	for _, name := range []string{"WEBHOOKS_DOWNLOAD_KEY", "WEBHOOKS_MASTER_KEY"} { // needed by the download server, the admin API
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s is not named in: %v", name, err)
		}
	}
	if _, serr := os.Stat(store); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("the embedded server's store %s was created (stat: %v)", store, serr)
	}
	if stderr.String() != "" {
		t.Errorf("serve logged before failing:\n%s", stderr.String())
	}
}

// An address in use stops serve before it connects to anything, naming
// the setting and its value.
func TestServeAddressInUse(t *testing.T) {
	for _, setting := range []string{"PUBLISHER_LISTEN_ADDR", "PUBLISHER_OPS_ADDR", "PUBLISHER_DOWNLOAD_ADDR"} {
		t.Run(setting, func(t *testing.T) {
			held, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			// NATS_URL points nowhere: connecting first would fail first.
			setEnv(t, map[string]string{"PUBLISHER_TOKENS": "tok_a", "PUBLISHER_DOWNLOAD_ADDR": "127.0.0.1:0",
				"WEBHOOKS_DOWNLOAD_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "WEBHOOKS_DOWNLOAD_BASE_URL": "https://dl.example.com",
				setting: held.Addr().String()})
			var stderr jstest.LogBuffer
			err = run(context.Background(), []string{"serve"}, nil, io.Discard, &stderr)
			if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), setting+"="+held.Addr().String()) {
				t.Errorf("err = %v, want one naming %s=%s (address in use)", err, setting, held.Addr())
			}
			if code := exitCode(err, io.Discard); code != 1 {
				t.Errorf("exit code = %d, want 1", code)
			}
			if stderr.Contains("listening") {
				t.Errorf("something listened:\n%s", stderr.String())
			}
		})
	}
}
