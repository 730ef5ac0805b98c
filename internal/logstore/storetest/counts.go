package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
)

// testCounts: the latest rounds per state in [from, to), the three states
// always present, per organization or all.
func testCounts(t *testing.T, s suite) {
	st := s.store(t)
	from, to := fixedNow().Add(-10*time.Hour), fixedNow().Add(-4*time.Hour)
	replay0, replay1 := Record("org-c", "c-replayed", from.Add(30*time.Minute)), Record("org-c", "c-replayed", to.Add(time.Hour))
	write(t, st,
		attempt(Record("org-c", "c-at-from", from), 0, 1, delivered, 200),
		attempt(Record("org-c", "c-in-1", from.Add(time.Hour)), 0, 1, delivered, 200),
		attempt(Record("org-c", "c-in-2", from.Add(2*time.Hour)), 0, 1, retry, 503),
		attempt(Record("org-c", "c-before", from.Add(-time.Microsecond)), 0, 1, undelivered, 500),
		attempt(Record("org-c", "c-at-to", to), 0, 1, undelivered, 500),
		attempt(Record("org-d", "c-other-org", from.Add(3*time.Hour)), 0, 1, undelivered, 0),
		// Superseded by a replay queued after the window: counted nowhere
		// in it.
		attempt(replay0, 0, 1, undelivered, 500),
		attempt(replay1, 1, 1, delivered, 200),
	)

	checkCounts(t, "Counts(org-c, window)", counts(t, st, "org-c", from, to), 1, 2, 0)
	checkCounts(t, "Counts(org-c, window + 1µs)", counts(t, st, "org-c", from, to.Add(time.Microsecond)), 1, 2, 1)
	checkCounts(t, "Counts(all orgs, window)", counts(t, st, "", from, to), 1, 2, 1)
	checkCounts(t, "Counts(org-d, window)", counts(t, st, "org-d", from, to), 0, 0, 1)
	checkCounts(t, "Counts(org-c, to the end)", counts(t, st, "org-c", from, allTo()), 1, 3, 1)
	checkCounts(t, "Counts(org-c, an empty window)", counts(t, st, "org-c", allFrom(), allFrom().Add(time.Hour)), 0, 0, 0)
	checkCounts(t, "Counts(unknown org)", counts(t, st, "org-none", allFrom(), allTo()), 0, 0, 0)
}

// testFind: the latest round of every event with the id, oldest first,
// within the organization or all; nothing matched is no error.
func testFind(t *testing.T, s suite) {
	st := s.store(t)
	t0 := fixedNow().Add(-9 * time.Hour)
	job := func(org, id, task string, d time.Duration) logstore.Round {
		r := Record(org, id, t0.Add(d))
		r.TaskID = task
		write(t, st, r)
		return roundOf(r)
	}
	j1 := job("org-a", "find-j1", "task-1", time.Hour)
	job("org-a", "find-j2", "task-1", 2*time.Hour)
	job("org-a", "find-j3", "task-2", 3*time.Hour)
	job("org-b", "find-j4", "task-1", 6*time.Hour)
	w1 := workflowRecord("org-a", "find-w1", "run-1", t0.Add(4*time.Hour))
	write(t, st, w1, workflowRecord("org-a", "find-w2", "run-1", t0.Add(5*time.Hour)))

	checkEqual(t, "Find(event_id find-j1)", find(t, st, logstore.ByEventID, "find-j1", "org-a"), []logstore.Delivery{j1.Delivery})
	checkEqual(t, "Find(run_id run-1)[0]", find(t, st, logstore.ByRunID, "run-1", "org-a")[0], roundOf(w1).Delivery)
	for _, tc := range []struct {
		by   logstore.FindBy
		id   string
		org  string
		want []string
	}{
		{logstore.ByEventID, "find-j1", "", []string{"find-j1"}},
		{logstore.ByEventID, "find-j1", "org-b", nil},
		{logstore.ByEventID, "find-none", "", nil},
		{logstore.ByTaskID, "task-1", "org-a", []string{"find-j1", "find-j2"}},
		{logstore.ByTaskID, "task-1", "", []string{"find-j1", "find-j2", "find-j4"}},
		{logstore.ByTaskID, "task-1", "org-b", []string{"find-j4"}},
		{logstore.ByTaskID, "task-2", "org-b", nil},
		{logstore.ByTaskID, "run-1", "", nil},
		{logstore.ByRunID, "run-1", "org-a", []string{"find-w1", "find-w2"}},
		{logstore.ByRunID, "run-1", "org-b", nil},
		{logstore.ByRunID, "task-1", "", nil},
	} {
		checkList(t, "Find("+string(tc.by)+" "+tc.id+", org "+tc.org+")", ids(find(t, st, tc.by, tc.id, tc.org)), tc.want)
	}

	if ds, err := st.Find(t.Context(), logstore.FindBy("host"), "a.example.com", ""); !errors.Is(err, logstore.ErrInvalidQuery) {
		t.Errorf(`Find("host") = %d rounds, %v; want logstore.ErrInvalidQuery`, len(ds), err)
	}
}
