package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestStatus(t *testing.T) {
	e := newEnv(t)
	a := e.deadLetter("org_a", "a.example.com")

	r := ctl(t, "", "status", "--event-id", a.EventID).want(t, 0)
	for _, s := range []string{"Event:", a.EventID, "State:", "undelivered", "Attempts:", "6", "Last status:", "502", "In undelivered:", "true"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("status lacks %q:\n%s", s, r.stdout)
		}
	}
	r = ctl(t, "", "status", "--task-id", a.Job.TaskID, "--org", "org_a", "--json").want(t, 0)
	var got []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != 1 || got[0]["event_id"] != a.EventID ||
		got[0]["in_undelivered"] != true {
		t.Errorf("status --json = %s (%v)", r.stdout, err)
	}
	r = ctl(t, "", "status", "--run-id", "run_unknown").want(t, 1)
	if !strings.Contains(r.err.Error(), "no delivery status found") {
		t.Errorf("error = %v", r.err)
	}
}

// TestStatusAfterReplay looks up an event right after its replay: the
// status is the replay's round (replay 1, queued, no attempt yet) with the
// failed round before it, in the JSON and in the text.
func TestStatusAfterReplay(t *testing.T) {
	e := newEnv(t)
	a := e.deadLetter("org_a", "a.example.com")
	ctl(t, "", "undelivered", "replay", "--id", a.EventID, "--yes").want(t, 0)

	r := ctl(t, "", "status", "--event-id", a.EventID, "--json").want(t, 0)
	var got []struct {
		Replay        int            `json:"replay"`
		ReplayQueued  bool           `json:"replay_queued"`
		Attempts      int            `json:"attempts"`
		State         string         `json:"state"`
		InUndelivered bool           `json:"in_undelivered"`
		PreviousRound map[string]any `json:"previous_round"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != 1 {
		t.Fatalf("status --json = %s (%v)", r.stdout, err)
	}
	if s := got[0]; s.Replay != 1 || !s.ReplayQueued || s.Attempts != 0 || s.State != "retrying" || s.InUndelivered ||
		s.PreviousRound["replay"] != 0.0 || s.PreviousRound["attempts"] != 6.0 || s.PreviousRound["status_code"] != 502.0 {
		t.Errorf("status after the replay = %+v; want replay 1 queued, 0 attempts, retrying, the failed round before it", s)
	}

	r = ctl(t, "", "status", "--event-id", a.EventID).want(t, 0)
	rows := map[string]string{}
	for _, line := range strings.Split(r.stdout, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			rows[k] = strings.TrimSpace(v)
		}
	}
	if !strings.HasPrefix(rows["Replay"], "1") || !strings.Contains(rows["Previous round"], "6") {
		t.Errorf("status text after the replay: Replay %q, Previous round %q:\n%s", rows["Replay"], rows["Previous round"], r.stdout)
	}
}
