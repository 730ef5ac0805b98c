package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/sqlitestore"
	"github.com/sixtyfour-oss/webhooks/internal/logwriter"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// env is a JetStream server with the pipeline's streams, named by NATS_URL.
type env struct {
	t     *testing.T
	ctx   context.Context
	js    jetstream.JetStream
	sc    streams.Config
	res   *streams.Resources
	store logstore.Store // the delivery log named by LOG_STORE_URL
}

func newEnv(t *testing.T) *env {
	t.Helper()
	s, js, res := jstest.Pipeline(t, streams.Config{})
	ctx := jstest.Context(t, 30*time.Second)
	sc := streams.Config{}.WithDefaults()
	t.Setenv("NATS_URL", s.ClientURL())
	t.Setenv("LOG_LEVEL", "debug")
	path := filepath.Join(t.TempDir(), "deliveries.db")
	t.Setenv("LOG_STORE_URL", "sqlite:"+path)
	store, err := sqlitestore.Open(ctx, path, logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &env{t: t, ctx: ctx, js: js, sc: sc, res: res, store: store}
}

// result is one webhooksctl run.
type result struct {
	stdout, stderr string
	err            error
}

// code is the exit status main would use.
func (r result) code() int {
	var usage usageError
	switch {
	case r.err == nil:
		return 0
	case errors.As(r.err, &usage):
		return 2
	default:
		return 1
	}
}

// ctl runs webhooksctl with stdin and args.
func ctl(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, args, strings.NewReader(stdin), &out, &errOut)
	return result{stdout: out.String(), stderr: errOut.String(), err: err}
}

// want fails the test unless r exited with code.
func (r result) want(t *testing.T, code int) result {
	t.Helper()
	if r.code() != code {
		t.Fatalf("exit %d (%v), want %d\nstdout:\n%s\nstderr:\n%s", r.code(), r.err, code, r.stdout, r.stderr)
	}
	return r
}

// deadLetter stores an undelivered event the way the deliverer does, and
// its last attempt in the delivery log as the log writer does.
func (e *env) deadLetter(org, host string) *envelope.Request {
	e.t.Helper()
	now := time.Now()
	job := envelope.JobResult{TaskID: "task_" + strconv.FormatInt(now.UnixNano(), 36), Status: envelope.StatusCompleted,
		TaskType: "find_email", Result: []byte(`{"email":"x@example.com"}`)}
	req, err := envelope.NewJobRequest(now, org, "https://"+host+"/hook", job)
	if err != nil {
		e.t.Fatal(err)
	}
	body, _ := req.Encode()
	failure := &envelope.Outcome{V: 1, EventID: req.EventID, OrgID: org, Source: req.Source, EventType: req.EventType,
		TaskID: job.TaskID, Host: req.Host(), State: envelope.StateUndelivered, Final: true, Attempts: 6, StatusCode: 502,
		Error: "attempts exhausted after 6 attempts: HTTP 502", QueuedAt: now.UTC(), FirstAttemptAt: now.UTC(), LastAttemptAt: now.UTC()}
	jstest.WriteUndelivered(e.ctx, e.t, e.js, e.sc, body, failure)
	rec, err := logwriter.RecordFromOutcome(failure)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.Write(e.ctx, []*envelope.AttemptRecord{rec}); err != nil {
		e.t.Fatal(err)
	}
	return req
}

// counts returns the messages on WEBHOOKS and WEBHOOKS_UNDELIVERED.
func (e *env) counts() (deliver, undelivered uint64) {
	e.t.Helper()
	d, err := e.res.Deliver.Info(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := e.res.Undelivered.Info(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return d.State.Msgs, u.State.Msgs
}

func TestUsageErrors(t *testing.T) {
	t.Setenv("NATS_URL", "nats://127.0.0.1:1") // never reached: usage is checked first
	for _, args := range [][]string{
		{},
		{"bogus"},
		{"undelivered"},
		{"undelivered", "bogus"},
		{"undelivered", "list", "extra"},
		{"undelivered", "list", "--since", "yesterday"},
		{"undelivered", "list", "--org", "a.b"},
		{"undelivered", "list", "--source", "email"},
		{"undelivered", "list", "--id", "a.*"},
		{"undelivered", "list", "--since", "1h", "--until", "2h"},
		{"undelivered", "list", "--limit", "-1"},
		{"undelivered", "list", "--nope"},
		{"undelivered", "show"},
		{"undelivered", "show", "a", "b"},
		{"undelivered", "replay", "--rate", "fast"},
		{"undelivered", "replay", "--rate", "10/d"},
		{"undelivered", "purge"},
		{"status"},
		{"status", "--event-id", "a", "--task-id", "b"},
		{"status", "--event-id", "a.>"},
		{"secrets"},
		{"secrets", "rotate", "--org", "o"},
		{"secrets", "create"},
		{"secrets", "create", "--org", "bad.org"},
		{"secrets", "roll", "--org", "o", "--overlap-hours", "73"},
		{"secrets", "roll", "--org", "o", "--overlap-hours", "-1"},
	} {
		r := ctl(t, "", args...)
		if r.code() != 2 {
			t.Errorf("webhooksctl %q: exit %d (%v), want 2", args, r.code(), r.err)
		}
	}
}

func TestNeedsNATSURL(t *testing.T) {
	t.Setenv("NATS_URL", "")
	r := ctl(t, "", "undelivered", "list").want(t, 1)
	if !errors.Is(r.err, ErrNoNATSURL) || !strings.Contains(r.err.Error(), "set NATS_URL") {
		t.Errorf("error = %v, want ErrNoNATSURL", r.err)
	}
}

func TestHelp(t *testing.T) {
	r := ctl(t, "", "help").want(t, 0)
	for _, s := range []string{"undelivered replay", "secrets roll", "status", "--since"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("help does not mention %q", s)
		}
	}
}

func TestParseWhenAndRate(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                     {},
		"2h":                   now.Add(-2 * time.Hour),
		"90m":                  now.Add(-90 * time.Minute),
		"2026-04-30T10:00:00Z": time.Date(2026, 4, 30, 10, 0, 0, 0, time.UTC),
	} {
		if got, err := parseWhen(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, want := range map[string]float64{"": 0, "5": 5, "5/s": 5, "120/m": 2, "3600/h": 1, "0.5": 0.5} {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"-1", "NaN", "Inf", "x/s", "5/d"} {
		if _, err := parseRate(in); err == nil {
			t.Errorf("parseRate(%q) accepted", in)
		}
	}
}

func TestProgressBarOnATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, label: "replaying", terminal: true}
	for i := 0; i <= 3; i++ {
		p.update(i, 3)
	}
	p.finish()
	if !strings.Contains(buf.String(), "replaying") || !strings.Contains(buf.String(), "3/3") {
		t.Errorf("progress bar wrote %q", buf.String())
	}
}
