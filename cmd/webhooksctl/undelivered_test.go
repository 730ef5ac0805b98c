package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestUndeliveredList(t *testing.T) {
	e := newEnv(t)
	a := e.deadLetter("org_a", "a.example.com")
	b := e.deadLetter("org_b", "b.example.com")

	r := ctl(t, "", "undelivered", "list").want(t, 0)
	for _, s := range []string{"EVENT ID", a.EventID, b.EventID, "org_a", "find_email", "a.example.com", "502", "attempts exhausted"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("table lacks %q:\n%s", s, r.stdout)
		}
	}
	r = ctl(t, "", "undelivered", "list", "--org", "org_b", "--json").want(t, 0)
	var got []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != 1 || got[0]["event_id"] != b.EventID {
		t.Fatalf("--json = %s (%v), want only %s", r.stdout, err, b.EventID)
	}
	if _, ok := got[0]["request"]; ok {
		t.Error("list --json includes the request (URLs may carry tokens)")
	}
	r = ctl(t, "", "undelivered", "list", "--limit", "1", "--since", "1h").want(t, 0)
	if !strings.Contains(r.stdout, a.EventID) || strings.Contains(r.stdout, b.EventID) {
		t.Errorf("--limit 1 printed:\n%s", r.stdout)
	}
	r = ctl(t, "", "undelivered", "list", "--host", "nowhere.example.com").want(t, 0)
	if !strings.Contains(r.stdout, "No undelivered events match") {
		t.Errorf("empty list printed %q", r.stdout)
	}
}

func TestUndeliveredShow(t *testing.T) {
	e := newEnv(t)
	a := e.deadLetter("org_a", "a.example.com")
	r := ctl(t, "", "undelivered", "show", a.EventID).want(t, 0)
	for _, s := range []string{"Request:", `"event_id": "` + a.EventID + `"`, `"task_type": "find_email"`, "Failure:", `"status_code": 502`} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("show lacks %q:\n%s", s, r.stdout)
		}
	}
	r = ctl(t, "", "undelivered", "show", "--json", a.EventID).want(t, 0)
	var v struct {
		EventID string         `json:"event_id"`
		Request map[string]any `json:"request"`
		Failure map[string]any `json:"failure"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.EventID != a.EventID || v.Request["url"] == nil || v.Failure["attempts"] != 6.0 {
		t.Errorf("show --json = %s (%v)", r.stdout, err)
	}
	r = ctl(t, "", "undelivered", "show", "00000000-0000-4000-8000-000000000000").want(t, 1)
	if !strings.Contains(r.err.Error(), "not in the undelivered stream") {
		t.Errorf("error = %v", r.err)
	}
}

func TestUndeliveredReplay(t *testing.T) {
	e := newEnv(t)
	a := e.deadLetter("org_a", "a.example.com")
	e.deadLetter("org_a", "a.example.com")
	b := e.deadLetter("org_b", "b.example.com")

	r := ctl(t, "", "undelivered", "replay", "--org", "org_a", "--dry-run").want(t, 0)
	if !strings.Contains(r.stdout, "2 undelivered events would be replayed") || !strings.Contains(r.stdout, a.EventID) {
		t.Errorf("dry run printed:\n%s", r.stdout)
	}
	if d, u := e.counts(); d != 0 || u != 3 {
		t.Fatalf("dry run changed the streams: %d pending, %d undelivered", d, u)
	}

	r = ctl(t, "n\n", "undelivered", "replay", "--org", "org_a").want(t, 1)
	if !strings.Contains(r.stderr, "Replay 2 events? [y/N]") || !strings.Contains(r.err.Error(), "aborted") {
		t.Errorf("declined replay: stderr %q, error %v", r.stderr, r.err)
	}
	if d, u := e.counts(); d != 0 || u != 3 {
		t.Fatalf("a declined replay changed the streams: %d pending, %d undelivered", d, u)
	}

	r = ctl(t, "y\n", "undelivered", "replay", "--org", "org_a", "--rate", "100/s").want(t, 0)
	if !strings.Contains(r.stdout, "Matched 2, replayed 2, skipped 0 (already replayed), failed 0") {
		t.Errorf("summary:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "replaying: 0/2") || !strings.Contains(r.stderr, "replaying: 2/2") {
		t.Errorf("no plain progress lines on a non-terminal stderr:\n%s", r.stderr)
	}
	if d, u := e.counts(); d != 2 || u != 1 {
		t.Errorf("after replay: %d pending, %d undelivered; want 2 and 1", d, u)
	}

	r = ctl(t, "", "undelivered", "replay", "--id", b.EventID, "--yes").want(t, 0)
	if !strings.Contains(r.stdout, "replayed 1") {
		t.Errorf("summary:\n%s", r.stdout)
	}
	r = ctl(t, "", "undelivered", "replay", "--yes").want(t, 0)
	if !strings.Contains(r.stdout, "nothing to replay") {
		t.Errorf("empty replay printed:\n%s", r.stdout)
	}
}

func TestUndeliveredPurge(t *testing.T) {
	e := newEnv(t)
	e.deadLetter("org_a", "a.example.com")
	e.deadLetter("org_b", "b.example.com")

	r := ctl(t, "no\n", "undelivered", "purge", "--org", "org_a").want(t, 1)
	if !strings.Contains(r.stderr, "Delete 1 undelivered events?") {
		t.Errorf("no confirmation asked:\n%s", r.stderr)
	}
	if _, u := e.counts(); u != 2 {
		t.Fatalf("a declined purge deleted messages: %d left", u)
	}
	r = ctl(t, "y\n", "undelivered", "purge", "--org", "org_a").want(t, 0)
	if !strings.Contains(r.stdout, "Deleted 1 undelivered events") {
		t.Errorf("purge printed:\n%s", r.stdout)
	}
	ctl(t, "", "undelivered", "purge", "--all", "--yes").want(t, 0)
	if d, u := e.counts(); d != 0 || u != 0 {
		t.Errorf("after purge --all: %d pending, %d undelivered; want 0 and 0", d, u)
	}
}
