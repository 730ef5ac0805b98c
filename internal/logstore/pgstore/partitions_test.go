package pgstore_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/storetest"
	"github.com/sixtyfour-oss/webhooks/internal/pgtest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

const day = 24 * time.Hour

// TestPartitions: Write creates one partition per UTC day of both tables;
// Prune drops the days that end at or before its cutoff and keeps the
// cutoff's own day.
func TestPartitions(t *testing.T) {
	st, u := fresh(t)
	conn := connect(t, u)
	// 12-03 23:59:59.999999 is still 12-03; 12-04 00:00 is 12-04.
	days := []time.Time{
		now().Add(-3*day + 12*time.Hour - time.Microsecond),
		now().Add(-2*day - 12*time.Hour),
		now().Add(-day),
		now(),
	}
	for i, q := range days {
		r := storetest.Record("org-p", "part-"+string(rune('a'+i)), q)
		r.Replay = i % 2 // b and d are replays, listed in replayed_events
		write(t, st, r)
	}
	want := []string{"p20261203", "p20261204", "p20261205", "p20261206"}
	checkPartitions(t, relations(t, conn, "%_p2%"), want)
	checkReplayed(t, conn, "part-b", "part-d")

	// Cutoff 12-05 12:00: 12-03 and 12-04 end before it; 12-05 is its own
	// day and stays.
	if n, err := st.Prune(t.Context(), now().Add(-day)); err != nil || n != -1 {
		t.Fatalf("Prune = %d, %v; want -1, nil", n, err)
	}
	checkPartitions(t, relations(t, conn, "%_p2%"), want[2:])
	checkGone(t, st, "part-a", "part-b")
	checkThere(t, st, "part-c", "part-d")
	checkReplayed(t, conn, "part-d")

	// Cutoff 12-06 00:00: 12-05 ends exactly at it.
	if _, err := st.Prune(t.Context(), time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	checkPartitions(t, relations(t, conn, "%_p2%"), want[3:])
	checkGone(t, st, "part-c")
	checkThere(t, st, "part-d")
	checkReplayed(t, conn, "part-d")

	// A day pruned and written again gets its partition back.
	write(t, st, storetest.Record("org-p", "part-e", days[0]))
	checkThere(t, st, "part-e")
	checkPartitions(t, relations(t, conn, "%_p2%"), []string{"p20261203", "p20261206"})
}

// checkReplayed reports the events listed in replayed_events unless they
// are want.
func checkReplayed(t *testing.T, conn *pgx.Conn, want ...string) {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT event_id FROM replayed_events ORDER BY event_id`)
	if err != nil {
		t.Fatalf("read replayed_events: %v", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("read replayed_events: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("replayed_events lists %v, want %v", got, want)
	}
}

// TestPartitionsAcrossStores: stores on one database (writer processes)
// create the same days at once without failing, and a store writes again
// to a day that another store pruned after it had created it.
func TestPartitionsAcrossStores(t *testing.T) {
	u, opts := pgtest.Database(t), logstore.Options{Now: now, Retention: 30 * day}
	a, b := open(t, u, opts), open(t, u, opts)

	var wg sync.WaitGroup
	for w, st := range []logstore.Store{a, b, a, b} {
		wg.Go(func() {
			var recs []*envelope.AttemptRecord
			for d := range 6 {
				recs = append(recs, storetest.Record("org-x", "x-"+string(rune('a'+w))+string(rune('0'+d)), now().Add(-time.Duration(d)*day)))
			}
			if err := st.Write(t.Context(), recs); err != nil {
				t.Errorf("writer %d: %v", w, err)
			}
		})
	}
	wg.Wait()
	checkPartitions(t, relations(t, connect(t, u), "%_p2%"),
		[]string{"p20261201", "p20261202", "p20261203", "p20261204", "p20261205", "p20261206"})

	old := now().Add(-3 * day)
	write(t, a, storetest.Record("org-x", "x-before", old))
	if _, err := b.Prune(t.Context(), now().Add(-2*day)); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	checkGone(t, a, "x-before", "x-a3")
	write(t, a, storetest.Record("org-x", "x-after", old))
	checkThere(t, b, "x-after")
}

func write(t *testing.T, st logstore.Store, recs ...*envelope.AttemptRecord) {
	t.Helper()
	if err := st.Write(t.Context(), recs); err != nil {
		t.Fatalf("Write(%d records): %v", len(recs), err)
	}
}

// checkPartitions reports the partitions of both tables among names unless
// they are those of the days want (pYYYYMMDD).
func checkPartitions(t *testing.T, names, days []string) {
	t.Helper()
	var want []string
	for _, table := range []string{"attempts", "deliveries"} {
		for _, d := range days {
			want = append(want, table+"_"+d)
		}
	}
	var got []string
	for _, n := range names {
		if n != "attempts" && n != "deliveries" {
			got = append(got, n)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("partitions = %v, want %v", got, want)
	}
}
