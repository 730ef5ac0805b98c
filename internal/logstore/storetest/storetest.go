// Package storetest is the one behaviour suite that every implementation
// of logstore.Store passes (sqlitestore, pgstore): Run opens fresh stores
// through the implementation's own open function and checks the contract
// documented in package logstore — round trips, idempotent and
// out-of-order writes, batches, replays, organization scoping, search
// filters, paging and query errors, counts, find, request capture, host
// statistics, retention and prune,
// markers, concurrent writers and canceled contexts. Record builds the
// attempt records it writes, for other tests and benchmarks.
//
// Every store is opened with a fixed clock (Options.Now, a moment in the
// past, so a store that reads the wall clock instead drops the suite's
// data and fails loudly); times are compared in the store's precision
// (logstore.Truncate: microseconds, UTC). The suite writes a few hundred
// rows per subtest at most, so it runs in seconds under -race, and it never
// sleeps. It is a normal package importing testing; it starts nothing.
package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// Run runs the suite. open returns a new, empty store with the given
// options for each call (the suite may call it several times in one test);
// it registers its own cleanup with t.
func Run(t *testing.T, open func(t *testing.T, opts logstore.Options) logstore.Store) {
	s := suite{open: open}
	for _, tc := range []struct {
		name string
		run  func(*testing.T, suite)
	}{
		{"RoundTrip", testRoundTrip},
		{"Idempotent", testIdempotent},
		{"OutOfOrder", testOutOfOrder},
		{"Batch", testBatch},
		{"Replays", testReplays},
		{"OrgScoping", testOrgScoping},
		{"SearchFilters", testSearchFilters},
		{"Paging", testPaging},
		{"QueryErrors", testQueryErrors},
		{"Counts", testCounts},
		{"Find", testFind},
		{"RequestCapture", testRequestCapture},
		{"Hosts", testHosts},
		{"Retention", testRetention},
		{"Prune", testPrune},
		{"Markers", testMarkers},
		{"ConcurrentWriters", testConcurrentWriters},
		{"PingAndCancel", testPingAndCancel},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, s) })
	}
}

// suite holds the implementation's open function.
type suite struct {
	open func(t *testing.T, opts logstore.Options) logstore.Store
}

// store opens a new empty store on the fixed clock with the default
// retention.
func (s suite) store(t *testing.T) logstore.Store {
	t.Helper()
	return s.open(t, logstore.Options{Now: fixedNow})
}

// fixedNow is the suite's clock: 2025-01-15 12:00 UTC.
func fixedNow() time.Time { return time.Date(2025, 1, 15, 12, 0, 0, 0, time.UTC) }

// Windows wide enough to hold every round the suite writes.
func allFrom() time.Time { return fixedNow().Add(-30 * 24 * time.Hour) }
func allTo() time.Time   { return fixedNow().Add(24 * time.Hour) }

func write(t *testing.T, st logstore.Store, recs ...*envelope.AttemptRecord) {
	t.Helper()
	if err := st.Write(t.Context(), recs); err != nil {
		t.Fatalf("Write(%d records): %v", len(recs), err)
	}
}

func timeline(t *testing.T, st logstore.Store, orgID, eventID string) *logstore.Timeline {
	t.Helper()
	tl, err := st.Timeline(t.Context(), orgID, eventID)
	if err != nil {
		t.Fatalf("Timeline(%q, %q): %v", orgID, eventID, err)
	}
	return tl
}

// checkTimeline reports how the stored timeline of want's event differs
// from want.
func checkTimeline(t *testing.T, st logstore.Store, want *logstore.Timeline) {
	t.Helper()
	checkEqual(t, "Timeline("+want.EventID+")", timeline(t, st, want.OrgID, want.EventID), want)
}

func checkNotFound(t *testing.T, st logstore.Store, orgID, eventID string) {
	t.Helper()
	switch tl, err := st.Timeline(t.Context(), orgID, eventID); {
	case err == nil:
		t.Errorf("Timeline(%q, %q) = %d rounds, nil error; want logstore.ErrNotFound", orgID, eventID, len(tl.Rounds))
	case !errors.Is(err, logstore.ErrNotFound):
		t.Errorf("Timeline(%q, %q): err = %v, want logstore.ErrNotFound", orgID, eventID, err)
	}
}

func search(t *testing.T, st logstore.Store, q logstore.Query) *logstore.Page {
	t.Helper()
	p, err := st.Search(t.Context(), q)
	if err != nil {
		t.Fatalf("Search(%+v): %v", q, err)
	}
	return p
}

func find(t *testing.T, st logstore.Store, by logstore.FindBy, id, orgID string) []logstore.Delivery {
	t.Helper()
	ds, err := st.Find(t.Context(), by, id, orgID)
	if err != nil {
		t.Fatalf("Find(%s, %q, %q): %v", by, id, orgID, err)
	}
	return ds
}

func counts(t *testing.T, st logstore.Store, orgID string, from, to time.Time) map[string]int64 {
	t.Helper()
	c, err := st.Counts(t.Context(), orgID, from, to)
	if err != nil {
		t.Fatalf("Counts(%q, %s, %s): %v", orgID, from, to, err)
	}
	return c
}
