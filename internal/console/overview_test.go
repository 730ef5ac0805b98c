package console_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
)

// withHosts is the real log store with a Hosts method of function fields,
// for the overview's host sections (until the stores have it).
type withHosts struct {
	logstore.Store
	mu    sync.Mutex
	orgs  []string
	stats []logstore.HostStat
}

func (s *withHosts) Hosts(_ context.Context, orgID string, _, _ time.Time, _ int) ([]logstore.HostStat, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orgs = append(s.orgs, orgID)
	return s.stats, nil
}

// onlyStore hides every method of a store but the interface's.
type onlyStore struct{ logstore.Store }

func TestOverview(t *testing.T) {
	e := newEnvWith(t, options{wrapLog: func(s logstore.Store) logstore.Store { return onlyStore{s} }})
	e.fixture()
	b := e.browser()
	b.signIn(operatorToken)
	p := b.get("/").want(t, http.StatusOK, "overview")
	for _, want := range []string{
		"<tr><th>Last hour</th><td>0</td><td>3</td><td>2</td></tr>",
		"<tr><th>Last 24 hours</th><td>0</td><td>3</td><td>2</td></tr>",
		`<strong class="undelivered-count">2</strong>`,
		"Ack pending", "<svg", `class="bar-delivered"`, `class="bar-undelivered"`,
		"5 deliveries in the last 24 hours, 2 undelivered",
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the overview lacks %q", want)
		}
	}
	_, hasHosts := any(onlyStore{}).(interface {
		Hosts(context.Context, string, time.Time, time.Time, int) ([]logstore.HostStat, error)
	})
	if got := strings.Contains(p.body, "Hosts, last hour"); got != hasHosts {
		t.Errorf("host section shown: %v, want %v (the store has Hosts: %v)", got, hasHosts, hasHosts)
	}
	if strings.Contains(p.body, "cannot be read") {
		t.Errorf("a part of the overview cannot be read:\n%s", p.body)
	}
	checkPage(t, "overview", p)

	org := e.browser()
	org.signIn(e.orgToken("org_b", false))
	op := org.get("/").want(t, http.StatusOK, "org_b overview")
	if !strings.Contains(op.body, "<tr><th>Last hour</th><td>0</td><td>1</td><td>1</td></tr>") ||
		!strings.Contains(op.body, `<strong class="undelivered-count">1</strong>`) {
		t.Fatalf("org_b's overview does not count org_b only:\n%s", op.body)
	}
}

func TestOverviewHosts(t *testing.T) {
	now := time.Now().UTC()
	hs := &withHosts{stats: []logstore.HostStat{
		{Host: "fast.example.com", Attempts: 10, AvgDurationMS: 20, MaxDurationMS: 40, LastAttemptAt: now},
		{Host: "slow.example.com", Attempts: 4, Failures: 4, AvgDurationMS: 9000, MaxDurationMS: 15000, LastAttemptAt: now},
		{Host: "<b>open</b>.example.com", Attempts: 6, Failures: 6, CircuitOpen: 5, LastAttemptAt: now},
	}}
	e := newEnvWith(t, options{wrapLog: func(s logstore.Store) logstore.Store { hs.Store = s; return hs }})
	b := e.browser()
	b.signIn(e.orgToken("org_a", false))
	p := b.get("/").want(t, http.StatusOK, "overview")
	open := strings.Index(p.body, "Open circuits")
	slowest := strings.Index(p.body, "Slowest hosts")
	if open < 0 || slowest < open {
		t.Fatalf("the host sections are missing:\n%s", p.body)
	}
	if !strings.Contains(p.body[open:slowest], "&lt;b&gt;open&lt;/b&gt;.example.com") || strings.Contains(p.body, "<b>open</b>") {
		t.Error("the open circuit is not listed, escaped")
	}
	if s, f := strings.Index(p.body[slowest:], "slow.example.com"), strings.Index(p.body[slowest:], "fast.example.com"); s < 0 || f < s {
		t.Error("the slowest host is not listed first")
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if len(hs.orgs) != 1 || hs.orgs[0] != "org_a" {
		t.Fatalf("Hosts was asked for %q, want org_a only", hs.orgs)
	}
}
