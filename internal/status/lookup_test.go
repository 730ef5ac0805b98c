package status

import (
	"errors"
	"testing"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

func TestLookupByEventID(t *testing.T) {
	e := newEnv(t)
	delivered := e.record(e.outcome("org_a", "task_1", "", envelope.StateDelivered), true)
	retrying := e.record(e.outcome("org_a", "", "run_1", envelope.StateRetrying), true)
	failed := e.record(e.outcome("org_b", "task_2", "", envelope.StateUndelivered), true)
	noRecord := e.record(e.outcome("org_b", "task_3", "", envelope.StateUndelivered), false)

	for _, tc := range []struct {
		name string
		q    Query
		want *envelope.Outcome
		in   bool
	}{
		{"delivered", Query{EventID: delivered.EventID}, delivered, false},
		{"retrying workflow", Query{EventID: retrying.EventID}, retrying, false},
		{"undelivered", Query{EventID: failed.EventID}, failed, true},
		{"undelivered without an outcome record", Query{EventID: noRecord.EventID}, noRecord, true},
		{"with its org", Query{EventID: failed.EventID, OrgID: "org_b"}, failed, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Lookup(e.ctx, e.store, e.js, e.sc, tc.q)
			if err != nil || len(got) != 1 {
				t.Fatalf("Lookup = %+v, %v; want one status", got, err)
			}
			s := got[0]
			if s.EventID != tc.want.EventID || s.OrgID != tc.want.OrgID || s.State != tc.want.State ||
				s.Attempts != tc.want.Attempts || s.StatusCode != tc.want.StatusCode || s.Error != tc.want.Error ||
				s.TaskID != tc.want.TaskID || s.RunID != tc.want.RunID || !s.QueuedAt.Equal(tc.want.QueuedAt) {
				t.Errorf("status = %+v, want it from %+v", s, tc.want)
			}
			if s.InUndelivered != tc.in {
				t.Errorf("InUndelivered = %v, want %v", s.InUndelivered, tc.in)
			}
			if (s.NextAttemptAt != nil) != (tc.want.State == envelope.StateRetrying) {
				t.Errorf("NextAttemptAt = %v for state %s", s.NextAttemptAt, s.State)
			}
		})
	}
	for name, q := range map[string]Query{
		"unknown event":               {EventID: "00000000-0000-4000-8000-000000000000"},
		"other org":                   {EventID: delivered.EventID, OrgID: "org_b"},
		"other org, undelivered only": {EventID: noRecord.EventID, OrgID: "org_a"},
	} {
		if _, err := Lookup(e.ctx, e.store, e.js, e.sc, q); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: error = %v, want ErrNotFound", name, err)
		}
	}
}

func TestLookupByTaskAndRunID(t *testing.T) {
	e := newEnv(t)
	first := e.record(e.outcome("org_a", "task_1", "", envelope.StateUndelivered), true)
	again := e.record(e.outcome("org_a", "task_1", "", envelope.StateDelivered), true) // published again
	otherOrg := e.record(e.outcome("org_b", "task_1", "", envelope.StateDelivered), true)
	e.record(e.outcome("org_a", "task_2", "", envelope.StateDelivered), true)
	run := e.record(e.outcome("org_a", "", "run_1", envelope.StateDelivered), true)
	e.record(e.outcome("org_a", "", "run_2", envelope.StateDelivered), true)
	odd := e.record(e.outcome("org_a", `task "quoted" <&>`, "", envelope.StateDelivered), true)

	for _, tc := range []struct {
		name string
		q    Query
		want []string
	}{
		{"task id", Query{TaskID: "task_1"}, []string{first.EventID, again.EventID, otherOrg.EventID}},
		{"task id in one org", Query{TaskID: "task_1", OrgID: "org_a"}, []string{first.EventID, again.EventID}},
		{"run id", Query{RunID: "run_1"}, []string{run.EventID}},
		{"task id with characters JSON escapes", Query{TaskID: odd.TaskID}, []string{odd.EventID}},
		{"a run id is not a task id", Query{TaskID: "run_1"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Lookup(e.ctx, e.store, e.js, e.sc, tc.q)
			if tc.want == nil {
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("Lookup = %+v, %v; want ErrNotFound", got, err)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("Lookup = %d statuses, %v; want %d", len(got), err, len(tc.want))
			}
			for i := range got {
				if got[i].EventID != tc.want[i] {
					t.Errorf("status %d = %s, want %s (oldest first)", i, got[i].EventID, tc.want[i])
				}
			}
			if tc.name == "task id" && (!got[0].InUndelivered || got[1].InUndelivered) {
				t.Errorf("InUndelivered = %v, %v; want true, false", got[0].InUndelivered, got[1].InUndelivered)
			}
		})
	}
}

func TestLookupInvalidQuery(t *testing.T) {
	e := newEnv(t)
	long := make([]byte, envelope.MaxIDLength+1)
	for i := range long {
		long[i] = 'x'
	}
	for name, q := range map[string]Query{
		"nothing":            {},
		"only an org":        {OrgID: "org_a"},
		"event and task":     {EventID: "a", TaskID: "b"},
		"task and run":       {TaskID: "a", RunID: "b"},
		"wildcard event id":  {EventID: "*"},
		"event id with dots": {EventID: "a.b.c"},
		"bad org":            {TaskID: "t", OrgID: "org.>"},
		"long task id":       {TaskID: string(long)},
	} {
		if _, err := Lookup(e.ctx, e.store, e.js, e.sc, q); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("%s: error = %v, want ErrInvalidQuery", name, err)
		}
	}
}
