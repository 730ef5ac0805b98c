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
