package natsconn

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/embedded"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
)

// levelsOf returns the level of every logged line whose message starts
// with msg.
func levelsOf(logs, msg string) []string {
	var levels []string
	for _, line := range strings.Split(logs, "\n") {
		var l struct{ Level, Message string }
		if json.Unmarshal([]byte(line), &l) == nil && strings.HasPrefix(l.Message, msg) {
			levels = append(levels, l.Level)
		}
	}
	return levels
}

func debugLogger(buf *jstest.LogBuffer) zerolog.Logger {
	return zerolog.New(buf).Level(zerolog.DebugLevel)
}

// A deliberate close is no warning: the disconnect it causes is logged at
// debug level.
func TestCloseIsNotAWarning(t *testing.T) {
	s := jstest.Server(t)
	var logs jstest.LogBuffer
	conn, err := Open(Config{URL: s.ClientURL()}, "test", debugLogger(&logs))
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	jstest.Eventually(t, 5*time.Second, func() bool { return len(levelsOf(logs.String(), "disconnected from NATS")) > 0 },
		"the disconnect logged:\n%s", &logs)
	for _, level := range levelsOf(logs.String(), "disconnected from NATS") {
		if level != "debug" {
			t.Errorf("the disconnect of a clean close is logged at %s, want debug:\n%s", level, logs.String())
		}
	}
}

// A connection lost to the server's going away still warns.
func TestLostConnectionWarns(t *testing.T) {
	s := jstest.Server(t)
	var logs jstest.LogBuffer
	conn, err := Open(Config{URL: s.ClientURL()}, "test", debugLogger(&logs))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s.Shutdown()
	jstest.Eventually(t, 5*time.Second, func() bool {
		for _, level := range levelsOf(logs.String(), "disconnected from NATS") {
			if level == "warn" {
				return true
			}
		}
		return false
	}, "a warning about the lost connection:\n%s", &logs)
}

// With NATS_URL empty and NATS_EMBEDDED_PORT taken, Open fails at once,
// naming the setting and its value, and the embedded server never starts
// (its store is not created).
func TestEmbeddedPortInUse(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	port := held.Addr().(*net.TCPAddr).Port
	store := filepath.Join(t.TempDir(), "nats")
	start := time.Now()
	_, err = Open(Config{EmbeddedPort: port, EmbeddedStoreDir: store}, "test", zerolog.Nop())
	if err == nil {
		t.Fatal("Open started an embedded server on a port in use")
	}
	if !strings.Contains(err.Error(), "NATS_EMBEDDED_PORT="+strconv.Itoa(port)) {
		t.Errorf("error %q does not name NATS_EMBEDDED_PORT=%d", err, port)
	}
	if !errors.Is(err, embedded.ErrCannotListen) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("error %v, want embedded.ErrCannotListen wrapping EADDRINUSE", err)
	}
	if _, serr := os.Stat(store); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("the embedded server's store %s was created (stat: %v)", store, serr)
	}
	if d := time.Since(start); d > embedded.DefaultStartTimeout/2 {
		t.Errorf("Open took %v to report the clash", d)
	}
}

func TestValidateNamesEverySetting(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	err := Config{
		URL: "nats://ok:4222, http://wrong:80,nats://", CredsFile: missing, CAFile: missing, CertFile: missing,
		EmbeddedPort: 70000,
	}.Validate()
	for _, name := range []string{"NATS_URL: entry 2", "NATS_URL: entry 3", "NATS_CREDS", "NATS_CA", "NATS_CERT, NATS_KEY", "NATS_EMBEDDED_PORT"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
	if err := (Config{URL: "nats://a:4222,b:4223", EmbeddedPort: -1}).Validate(); err != nil {
		t.Errorf("good settings: %v", err)
	}
	if err := (Config{URL: "nats://user:s3cret@"}).Validate(); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %v, want one that hides the password", err)
	}
}
