package service

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/natsconn"
)

// named reports the variables err's problems name.
func named(err error) map[string]bool {
	out := map[string]bool{}
	var p config.Problems
	if errors.As(err, &p) {
		for _, e := range p {
			var se *config.SettingError
			if errors.As(e, &se) {
				out[se.Name] = true
			}
		}
	}
	return out
}

func loadWith(t *testing.T, dst any, env map[string]string) error {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	return config.Load(dst)
}

func TestDelivererSettingsReportEveryProblem(t *testing.T) {
	bad := map[string]string{
		"WEBHOOKS_MASTER_KEY":            "k1:short",
		"RETRY_SCHEDULE":                 "soon",
		"RETRY_AFTER_CAP":                "0s",
		"DELIVERER_CONCURRENCY":          "0",
		"DELIVERER_PREFETCH":             "many",
		"DELIVERER_PER_HOST_CONCURRENCY": "-1",
		"DELIVERER_ORG_CONCURRENCY":      "-2",
		"DELIVERER_ORG_RATE":             "-1",
		"DELIVERER_ORG_BURST":            "-3",
		"DELIVERER_SHUTDOWN_TIMEOUT":     "0s",
		"DELIVERER_OPS_ADDR":             "9090",
		"STREAMS_ACK_WAIT":               "1ms",
	}
	var s DelivererSettings
	err := loadWith(t, &s, bad)
	if !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("error = %v, want config.ErrInvalid", err)
	}
	got := named(err)
	for name := range bad {
		if !got[name] {
			t.Errorf("%s is not named in:\n%v", name, err)
		}
	}
}

// A pace must be a finite rate, and a burst comes with a rate.
func TestDelivererOrgRateSettings(t *testing.T) {
	for _, tc := range []struct {
		rate, burst string
		bad         string // the setting named, "" for none
	}{
		{"0", "0", ""},
		{"2.5", "0", ""},
		{"100", "20", ""},
		{"NaN", "0", "DELIVERER_ORG_RATE"},
		{"+Inf", "0", "DELIVERER_ORG_RATE"},
		{"0", "5", "DELIVERER_ORG_BURST"},
	} {
		var s DelivererSettings
		err := loadWith(t, &s, map[string]string{"DELIVERER_ORG_RATE": tc.rate, "DELIVERER_ORG_BURST": tc.burst})
		got := named(err)
		switch {
		case tc.bad == "" && (got["DELIVERER_ORG_RATE"] || got["DELIVERER_ORG_BURST"]):
			t.Errorf("rate %s, burst %s: refused: %v", tc.rate, tc.burst, err)
		case tc.bad != "" && !got[tc.bad]:
			t.Errorf("rate %s, burst %s: %s not named in: %v", tc.rate, tc.burst, tc.bad, err)
		}
	}
}

func TestDelivererSettingsLeaveTheKeyToTheCaller(t *testing.T) {
	var s DelivererSettings
	if err := loadWith(t, &s, map[string]string{"WEBHOOKS_MASTER_KEY": "", "WEBHOOKS_DEV_MODE": "false"}); err != nil {
		t.Errorf("no master key: %v, want no problem (the quickstart supplies the development key)", err)
	}
}

func TestLogWriterSettingsReportEveryProblem(t *testing.T) {
	bad := map[string]string{
		"LOG_STORE_URL":       "mysql://db/log",
		"LOG_RETENTION":       "1m",
		"LOG_WRITER_BATCH":    "0",
		"LOG_PRUNE_INTERVAL":  "hourly",
		"LOG_WRITER_OPS_ADDR": "localhost",
		"LOG_LEVEL":           "loud",
	}
	var s LogWriterSettings
	err := loadWith(t, &s, bad)
	got := named(err)
	for name := range bad {
		if !got[name] {
			t.Errorf("%s is not named in:\n%v", name, err)
		}
	}
}

// RunDeliverer says nothing about unsafe settings: the process that runs
// it has said so once (the quickstart and cmd/deliverer both do).
func TestRunDelivererDoesNotRepeatTheWarnings(t *testing.T) {
	s := jstest.Server(t)
	var settings DelivererSettings
	if err := loadWith(t, &settings, map[string]string{
		"NATS_URL": s.ClientURL(), "WEBHOOKS_ALLOW_DESTINATIONS": "127.0.0.1", "WEBHOOKS_UNSAFE_ALLOW_HTTP": "true",
		"WEBHOOKS_DEV_MODE": "true", "WEBHOOKS_MASTER_KEY": "", "DELIVERER_OPS_ADDR": "",
	}); err != nil {
		t.Fatal(err)
	}
	var logs jstest.LogBuffer
	log := zerolog.New(&logs)
	conn, err := natsconn.Open(settings.Config, "test", log)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunDeliverer(ctx, settings, conn, log) }()
	jstest.Eventually(t, 30*time.Second, func() bool { return logs.Contains(`"message":"deliverer started"`) }, "started:\n%s", &logs)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("RunDeliverer: %v", err)
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		var l struct{ Level, Message string }
		if json.Unmarshal([]byte(line), &l) == nil && strings.Contains(l.Message, "UNSAFE") {
			t.Errorf("RunDeliverer warned: %s", line)
		}
	}
}

func TestRetryAfterCapReachesThePolicy(t *testing.T) {
	var s DelivererSettings
	if err := loadWith(t, &s, map[string]string{"RETRY_AFTER_CAP": "90s"}); err != nil {
		t.Fatal(err)
	}
	p, err := s.Policy()
	if err != nil || p.RetryAfterCap != 90*time.Second {
		t.Errorf("Policy() = cap %v, %v; want 90s", p.RetryAfterCap, err)
	}
	var d DelivererSettings
	if err := loadWith(t, &d, map[string]string{"RETRY_AFTER_CAP": "25h"}); !named(err)["RETRY_AFTER_CAP"] {
		t.Errorf("RETRY_AFTER_CAP=25h: %v, want it named", err)
	}
}
