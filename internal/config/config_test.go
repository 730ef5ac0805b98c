package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLoadReadsExactNames(t *testing.T) {
	t.Setenv("NATS_URL", "nats://a:4222,nats://b:4222")
	t.Setenv("STREAMS_REPLICAS", "3")
	t.Setenv("STREAMS_ACK_WAIT", "45s")
	t.Setenv("WEBHOOKS_ALLOW_DESTINATIONS", "127.0.0.1")
	var c Common
	if err := Load(&c); err != nil {
		t.Fatal(err)
	}
	if c.URL != "nats://a:4222,nats://b:4222" || c.Replicas != 3 || c.AckWait != 45*time.Second || c.EmbeddedPort != 4222 {
		t.Errorf("loaded %+v", c)
	}
	if s := c.Streams(); s.Replicas != 3 || s.AckWait != 45*time.Second || s.DeliverStream != "WEBHOOKS" {
		t.Errorf("streams config %+v", s)
	}
}

func TestLoadNamesBadVariable(t *testing.T) {
	t.Setenv("STREAMS_REPLICAS", "three")
	var c Common
	err := Load(&c)
	if err == nil || !strings.Contains(err.Error(), "STREAMS_REPLICAS") {
		t.Errorf("error = %v, want it to name STREAMS_REPLICAS", err)
	}
}

func TestUnsafeSettingsAreLoud(t *testing.T) {
	c := Common{AllowDestinations: "10.0.0.0/8", UnsafeAllowHTTP: true, LogLevel: "info"}
	var buf bytes.Buffer
	log, err := c.Logger(&buf, "test")
	if err != nil {
		t.Fatal(err)
	}
	policy, _, err := c.Destinations()
	if err != nil {
		t.Fatal(err)
	}
	c.WarnUnsafe(log, policy)
	if got := strings.Count(buf.String(), `"message":"UNSAFE`); got != 2 {
		t.Errorf("logged %d UNSAFE warnings, want 2:\n%s", got, buf.String())
	}
	if _, _, err := (Common{AllowDestinations: "not a cidr/99"}).Destinations(); err == nil || !strings.Contains(err.Error(), "WEBHOOKS_ALLOW_DESTINATIONS") {
		t.Errorf("bad allow-list error = %v", err)
	}
}

func TestKeyringRequiresMasterKeyOrDevMode(t *testing.T) {
	var buf bytes.Buffer
	log, _ := Common{LogLevel: "warn"}.Logger(&buf, "test")
	if _, err := (Common{}).Keyring(log); !errors.Is(err, ErrNoMasterKey) {
		t.Errorf("no key, no dev mode: error = %v, want ErrNoMasterKey", err)
	}
	k, err := (Common{DevMode: true}).Keyring(log)
	if err != nil || !k.Insecure() || !strings.Contains(buf.String(), "PUBLICLY KNOWN") {
		t.Errorf("dev mode: keyring %v, err %v, log %s", k, err, buf.String())
	}
	if _, err := (Common{MasterKey: "k1:short"}).Keyring(log); err == nil || !strings.Contains(err.Error(), "WEBHOOKS_MASTER_KEY") {
		t.Errorf("bad key error = %v", err)
	}
}

func TestLoggerRejectsUnknownLevel(t *testing.T) {
	if _, err := (Common{LogLevel: "loud"}).Logger(&bytes.Buffer{}, "x"); err == nil || !strings.Contains(err.Error(), "LOG_LEVEL") {
		t.Errorf("error = %v", err)
	}
}
