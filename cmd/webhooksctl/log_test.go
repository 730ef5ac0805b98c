package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/storetest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// logged writes records of org_a (one delivered event, one that failed
// twice and is retrying) and org_b into the env's delivery log.
func (e *env) logged() {
	e.t.Helper()
	now := time.Now().Add(-10 * time.Minute)
	ok := storetest.Record("org_a", "ev-ok", now)
	first := storetest.Record("org_a", "ev-retry", now.Add(time.Minute))
	first.StatusCode, first.ResponseExcerpt, first.Decision, first.State, first.Final = 503, "busy", envelope.DecisionRetry, envelope.StateRetrying, false
	first.RetryDelayMS = 1000
	next := first.FinishedAt.Add(time.Second)
	first.NextAttemptAt = &next
	second := *first
	second.Attempt, second.StatusCode, second.ResponseExcerpt, second.ErrorClass, second.Error = 2, 0, "", "timeout", "no response within 10s"
	second.Sent = true
	other := storetest.Record("org_b", "ev-other", now)
	if err := e.store.Write(e.ctx, []*envelope.AttemptRecord{ok, first, &second, other}); err != nil {
		e.t.Fatal(err)
	}
}

func TestLogSearchesAndPrintsTimelines(t *testing.T) {
	e := newEnv(t)
	e.logged()

	out := ctl(t, "", "log", "--org", "org_a").want(t, 0).stdout
	if !strings.Contains(out, "ev-ok") || !strings.Contains(out, "ev-retry") || strings.Contains(out, "ev-other") {
		t.Errorf("log --org org_a:\n%s", out)
	}
	if i, j := strings.Index(out, "ev-retry"), strings.Index(out, "ev-ok"); i > j {
		t.Errorf("not newest first:\n%s", out)
	}

	out = ctl(t, "", "log", "--org", "org_a", "--state", "retrying", "--json").want(t, 0).stdout
	var page logstore.Page
	if err := json.Unmarshal([]byte(out), &page); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if len(page.Deliveries) != 1 || page.Deliveries[0].EventID != "ev-retry" || page.Deliveries[0].Attempts != 2 ||
		page.Deliveries[0].ErrorClass != "timeout" {
		t.Errorf("--state retrying --json = %+v", page.Deliveries)
	}

	out = ctl(t, "", "log", "--limit", "1", "--org", "org_a").want(t, 0).stdout
	if !strings.Contains(out, "More: webhooksctl log --cursor ") {
		t.Errorf("a full page names its cursor:\n%s", out)
	}

	out = ctl(t, "", "log", "--event-id", "ev-retry").want(t, 0).stdout
	for _, want := range []string{"ATTEMPT", "503", "retry", "busy", "no response within 10s"} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline lacks %q:\n%s", want, out)
		}
	}
	r := ctl(t, "", "log", "--event-id", "ev-other", "--org", "org_a").want(t, 1)
	if !strings.Contains(r.err.Error(), "no event ev-other") {
		t.Errorf("another organization's event: %v", r.err)
	}
}

func TestLogUsageErrors(t *testing.T) {
	e := newEnv(t)
	e.logged()
	for _, args := range [][]string{
		{"log", "--limit", "501"},
		{"log", "--since", "last tuesday"},
		{"log", "--state", "lost"},
		{"log", "--status", "6xx"},
		{"log", "--event-id", "no spaces"},
		{"log", "extra"},
	} {
		ctl(t, "", args...).want(t, 2)
	}
	t.Setenv("LOG_STORE_URL", "sqlite:"+filepath.Join(t.TempDir(), "missing.db"))
	r := ctl(t, "", "log").want(t, 1)
	if !strings.Contains(r.err.Error(), "LOG_STORE_URL") {
		t.Errorf("a missing log file: %v", r.err)
	}
	t.Setenv("LOG_STORE_URL", "mysql://x")
	if r := ctl(t, "", "log"); r.code() == 0 || !strings.Contains(r.err.Error(), "LOG_STORE_URL") {
		t.Errorf("a bad LOG_STORE_URL: %v", r.err)
	}
}

func TestLogFollowPrintsNewRounds(t *testing.T) {
	e := newEnv(t)
	e.logged()
	var out jstest.LogBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"log", "--follow", "--org", "org_a", "--since", "1h"}, strings.NewReader(""), &out, &out)
	}()
	jstest.Eventually(t, 10*time.Second, func() bool { return out.Contains("ev-retry") }, "the rounds of the last hour printed")
	late := storetest.Record("org_a", "ev-late", time.Now())
	if err := e.store.Write(e.ctx, []*envelope.AttemptRecord{late}); err != nil {
		t.Fatal(err)
	}
	jstest.Eventually(t, 10*time.Second, func() bool { return out.Contains("ev-late") }, "a new round printed")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("follow ended with %v", err)
	}
	if n := strings.Count(out.String(), "ev-ok"); n != 1 {
		t.Errorf("an unchanged round printed %d times:\n%s", n, out.String())
	}
}
