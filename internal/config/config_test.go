package config

import (
	"bytes"
	"errors"
	"fmt"
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

// settingNames returns the variables that err's problems name.
func settingNames(err error) map[string]int {
	names := map[string]int{}
	var p Problems
	if !errors.As(err, &p) {
		return names
	}
	for _, e := range p {
		var se *SettingError
		if errors.As(e, &se) {
			names[se.Name]++
		}
	}
	return names
}

// Every problem is reported by one Load, parse errors and range errors
// alike, each naming its variable once.
func TestLoadReportsEveryProblem(t *testing.T) {
	bad := map[string]string{
		"STREAMS_REPLICAS":            "three", // does not parse
		"STREAMS_ACK_WAIT":            "1ms",   // out of range
		"STREAMS_MAX_ACK_PENDING":     "0",
		"STREAMS_DUPLICATE_WINDOW":    "soon", // does not parse
		"WEBHOOKS_UNSAFE_ALLOW_HTTP":  "maybe",
		"WEBHOOKS_ALLOW_DESTINATIONS": "not a cidr/99",
		"LOG_LEVEL":                   "loud",
		"WEBHOOKS_DOWNLOAD_KEY":       "c2hvcnQ=",
		"WEBHOOKS_DOWNLOAD_TTL":       "-1s",
	}
	for k, v := range bad {
		t.Setenv(k, v)
	}
	var c Common
	err := Load(&c)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Load error = %v, want ErrInvalid", err)
	}
	got := settingNames(err)
	for name := range bad {
		if got[name] != 1 {
			t.Errorf("%s named %d times, want once, in:\n%v", name, got[name], err)
		}
	}
	if len(got) != len(bad) {
		t.Errorf("problems name %v, want exactly %d variables", got, len(bad))
	}
	if ExitStatus(err) != 2 {
		t.Errorf("ExitStatus = %d, want 2", ExitStatus(err))
	}
}

func TestLoadKeepsDefaultsOfGoodSettings(t *testing.T) {
	t.Setenv("STREAMS_REPLICAS", "three")
	var c Common
	_ = Load(&c)
	if c.AckWait != 30*time.Second || c.LogLevel != "info" {
		t.Errorf("a bad STREAMS_REPLICAS kept other settings from loading: %+v", c)
	}
}

func TestMasterKeyChecks(t *testing.T) {
	tests := []struct {
		name              string
		c                 Common
		validate, require bool // whether each reports a problem
	}{
		{"unset, no dev mode", Common{}, false, true},
		{"unset, dev mode", Common{DevMode: true}, false, false},
		{"malformed", Common{MasterKey: "k1:short"}, true, false},
		{"malformed in dev mode", Common{MasterKey: "k1:short", DevMode: true}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.c.ValidateMasterKey(); (err != nil) != tt.validate {
				t.Errorf("ValidateMasterKey = %v, want a problem: %v", err, tt.validate)
			} else if err != nil && !strings.Contains(err.Error(), "WEBHOOKS_MASTER_KEY") {
				t.Errorf("ValidateMasterKey = %v, want it to name WEBHOOKS_MASTER_KEY", err)
			}
			if err := tt.c.RequireMasterKey(); (err != nil) != tt.require {
				t.Errorf("RequireMasterKey = %v, want a problem: %v", err, tt.require)
			} else if err != nil && !errors.Is(err, ErrNoMasterKey) {
				t.Errorf("RequireMasterKey = %v, want ErrNoMasterKey", err)
			}
		})
	}
}

func TestCheckAddr(t *testing.T) {
	tests := []struct {
		addr     string
		optional bool
		ok       bool
	}{
		{"127.0.0.1:8080", false, true},
		{":0", false, true},
		{"[::1]:9090", true, true},
		{"", true, true},
		{"", false, false},
		{"8080", true, false},
		{"127.0.0.1", true, false},
		{"127.0.0.1:http", true, false},
		{"127.0.0.1:70000", true, false},
	}
	for _, tt := range tests {
		err := CheckAddr("X_ADDR", tt.addr, tt.optional)
		if (err == nil) != tt.ok {
			t.Errorf("CheckAddr(%q, optional %v) = %v, want ok %v", tt.addr, tt.optional, err, tt.ok)
		}
		var se *SettingError
		if err != nil && (!errors.As(err, &se) || se.Name != "X_ADDR") {
			t.Errorf("CheckAddr(%q) = %v, want a *SettingError naming X_ADDR", tt.addr, err)
		}
	}
}

func TestExitStatus(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("connect: refused"), 1},
		{Check(Bad("X", "wrong")), 2},
		{fmt.Errorf("start: %w", Check(ErrNoMasterKey)), 2},
	} {
		if got := ExitStatus(tt.err); got != tt.want {
			t.Errorf("ExitStatus(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

// The UNSAFE warnings name their setting in a field, so that a command can
// say exactly what applies and tests can tell them apart.
func TestUnsafeWarningsNameTheirSetting(t *testing.T) {
	c := Common{AllowDestinations: "10.0.0.0/8", UnsafeAllowHTTP: true, DevMode: true, LogLevel: "info"}
	var buf bytes.Buffer
	log, _ := c.Logger(&buf, "test")
	policy, _, _ := c.Destinations()
	c.WarnUnsafe(log, policy)
	c.WarnDevKey(log)
	for _, name := range []string{SettingAllowDestinations, SettingAllowHTTP, SettingDevMode} {
		if n := strings.Count(buf.String(), `"setting":"`+name+`"`); n != 1 {
			t.Errorf("%d warnings name %s, want 1:\n%s", n, name, buf.String())
		}
	}
	buf.Reset()
	if _, err := (Common{DevMode: true}).ParseKeyring(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("ParseKeyring logged: %s", buf.String())
	}
}
