package storetest

import (
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
)

// testRetention: a record queued before Now minus the retention is not
// stored; the rest of its batch is.
func testRetention(t *testing.T, s suite) {
	st := s.open(t, logstore.Options{Retention: 48 * time.Hour, Now: fixedNow})
	old := Record("org-ret", "ret-old", fixedNow().Add(-72*time.Hour))
	fresh := Record("org-ret", "ret-fresh", fixedNow().Add(-time.Hour))
	write(t, st, old, fresh)
	checkNotFound(t, st, "", "ret-old")
	checkTimeline(t, st, timelineOf(roundOf(fresh)))
	checkList(t, "Search", ids(search(t, st, logstore.Query{OrgID: "org-ret"}).Deliveries), []string{"ret-fresh"})
}

// testPrune: Prune removes the rounds queued before the cutoff and keeps
// the rest. The old rounds are a full UTC day or more before the cutoff
// and the kept ones a full day or more after it, so a store that drops
// whole daily partitions passes as well as one that deletes rows.
func testPrune(t *testing.T, s suite) {
	now := fixedNow()
	// A retention long enough to take the old rounds; Prune gets its own
	// cutoff.
	st := s.open(t, logstore.Options{Retention: 30 * 24 * time.Hour, Now: fixedNow})
	cutoff := now.Add(-48 * time.Hour) // 2025-01-13 12:00
	const org = "org-prune"
	old1 := Record(org, "prune-old-1", now.Add(-5*24*time.Hour)) // 01-10 12:00
	old2 := Record(org, "prune-old-2", now.Add(-78*time.Hour))   // 01-12 06:00
	mixed0 := Record(org, "prune-mixed", now.Add(-5*24*time.Hour))
	mixed1 := Record(org, "prune-mixed", now.Add(-2*time.Hour))
	new1 := Record(org, "prune-new-1", now.Add(-20*time.Hour)) // 01-14 16:00
	new2 := Record(org, "prune-new-2", now.Add(-time.Hour))
	old1a1 := attempt(old1, 0, 1, retry, 503)
	old1a2 := attempt(old1, 0, 2, delivered, 200)
	mixed0a1, mixed1a1 := attempt(mixed0, 0, 1, undelivered, 500), attempt(mixed1, 1, 1, delivered, 200)
	write(t, st, old1a1, old1a2, old2, mixed0a1, mixed1a1, new1, new2)
	checkCounts(t, "Counts before Prune", counts(t, st, org, allFrom(), allTo()), 0, 5, 0)

	// Rounds removed: prune-old-1, prune-old-2 and replay 0 of prune-mixed.
	n, err := st.Prune(t.Context(), cutoff)
	switch {
	case err != nil:
		t.Fatalf("Prune(%s): %v", cutoff, err)
	case n != -1 && n != 3:
		t.Errorf("Prune(%s) = %d, want 3 rounds removed (or -1: not counted)", cutoff, n)
	}
	checkNotFound(t, st, "", "prune-old-1")
	checkNotFound(t, st, "", "prune-old-2")
	checkTimeline(t, st, timelineOf(roundOf(mixed1a1)))
	checkTimeline(t, st, timelineOf(roundOf(new1)))
	checkTimeline(t, st, timelineOf(roundOf(new2)))
	checkList(t, "Search after Prune", keys(search(t, st, logstore.Query{OrgID: org}).Deliveries),
		[]string{"prune-new-2/0", "prune-mixed/1", "prune-new-1/0"})
	checkCounts(t, "Counts after Prune", counts(t, st, org, allFrom(), allTo()), 0, 3, 0)

	if n, err := st.Prune(t.Context(), cutoff); err != nil || (n != -1 && n != 0) {
		t.Errorf("Prune(%s) again = %d, %v; want 0 (or -1), nil", cutoff, n, err)
	}
	checkTimeline(t, st, timelineOf(roundOf(new1)))
}
