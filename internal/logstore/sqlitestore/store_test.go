package sqlitestore_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/sqlitestore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/storetest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

func recs(r ...*envelope.AttemptRecord) []*envelope.AttemptRecord { return r }

// fixed is the clock of these tests.
func fixed() time.Time { return time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC) }

// retry returns a copy of r as a failed attempt n of round replay, queued
// at queued, that will be tried again.
func retry(r *envelope.AttemptRecord, replay, n int, queued time.Time) *envelope.AttemptRecord {
	c := *r
	c.Replay, c.Attempt, c.QueuedAt = replay, n, queued
	c.StartedAt = queued.Add(time.Duration(n) * time.Minute)
	c.FinishedAt = c.StartedAt.Add(time.Second)
	next := c.FinishedAt.Add(30 * time.Second)
	c.StatusCode, c.ResponseExcerpt, c.ErrorClass, c.Error = 503, "busy", "response", "HTTP 503"
	c.Decision, c.State, c.Final, c.RetryDelayMS, c.NextAttemptAt = envelope.DecisionRetry, envelope.StateRetrying, false, 30_000, &next
	return &c
}

func write(t *testing.T, s logstore.Store, r ...*envelope.AttemptRecord) {
	t.Helper()
	if err := s.Write(t.Context(), r); err != nil {
		t.Fatalf("Write(%d records): %v", len(r), err)
	}
}

// Times are stored as INTEGER Unix microseconds and read back in UTC,
// truncated; booleans as 0/1; a missing next attempt and block columns as
// NULL.
func TestStorageFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	s := openAt(t, path, logstore.Options{Now: fixed})
	paris := time.FixedZone("CET", 3600)
	queued := time.Date(2025, 3, 1, 11, 0, 0, 123456789, paris) // 10:00:00.123456789 UTC
	r := retry(storetest.Record("org-fmt", "fmt-1", queued), 0, 1, queued)
	write(t, s, r)

	var q, next, final, sent int64
	var nullBlock bool
	err := rawDB(t, path).QueryRow(`SELECT d.queued_at, d.next_attempt_at, d.final, a.sent,
		d.webhook_status_code IS NULL AND d.webhook_response IS NULL AND d.webhook_success IS NULL
		FROM deliveries d JOIN attempts a USING (event_id, replay)`).Scan(&q, &next, &final, &sent, &nullBlock)
	if err != nil {
		t.Fatal(err)
	}
	if want := queued.UnixMicro(); q != want || next != r.NextAttemptAt.UnixMicro() || final != 0 || sent != 1 || !nullBlock {
		t.Errorf("stored queued_at %d, next_attempt_at %d, final %d, sent %d, block columns NULL %v; want %d, %d, 0, 1, true",
			q, next, final, sent, nullBlock, want, r.NextAttemptAt.UnixMicro())
	}
	tl, err := s.Timeline(t.Context(), "", "fmt-1")
	if err != nil {
		t.Fatal(err)
	}
	d := tl.Rounds[0]
	for name, got := range map[string]time.Time{
		"queued_at": d.QueuedAt, "first_attempt_at": d.FirstAttemptAt, "next_attempt_at": *d.NextAttemptAt,
		"attempt started_at": d.AttemptList[0].StartedAt, "attempt finished_at": d.AttemptList[0].FinishedAt,
	} {
		if got.Location() != time.UTC || got.Nanosecond()%1000 != 0 {
			t.Errorf("%s = %v, want UTC in microseconds", name, got)
		}
	}
	if !d.QueuedAt.Equal(logstore.Truncate(queued)) {
		t.Errorf("queued_at = %v, want %v", d.QueuedAt, logstore.Truncate(queued))
	}
}

// Replays and earlier rounds in one batch, in either order: only the
// highest replay is the latest round.
func TestSupersededWithinBatch(t *testing.T) {
	s := open(t, logstore.Options{Now: fixed})
	queued := fixed().Add(-time.Hour)
	a0 := storetest.Record("org-sup", "sup-a", queued)
	a1 := retry(a0, 1, 1, queued.Add(time.Minute))
	b0 := storetest.Record("org-sup", "sup-b", queued)
	b1 := retry(b0, 1, 1, queued.Add(time.Minute))
	b2 := retry(b0, 2, 1, queued.Add(2*time.Minute))
	write(t, s, a1, a0, b0, b2, b1)
	for _, tc := range []struct {
		id   string
		want []bool // superseded, by replay
	}{{"sup-a", []bool{true, false}}, {"sup-b", []bool{true, true, false}}} {
		tl, err := s.Timeline(t.Context(), "org-sup", tc.id)
		if err != nil {
			t.Fatal(err)
		}
		var got []bool
		for _, r := range tl.Rounds {
			got = append(got, r.Superseded)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: superseded by replay = %v, want %v", tc.id, got, tc.want)
		}
	}
	p, err := s.Search(t.Context(), logstore.Query{OrgID: "org-sup"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range p.Deliveries {
		got = append(got, fmt.Sprintf("%s/%d", d.EventID, d.Replay))
	}
	if want := []string{"sup-b/2", "sup-a/1"}; !slices.Equal(got, want) {
		t.Errorf("Search = %v, want %v", got, want)
	}
}

// Two stores on one file (two processes, to SQLite) write at once, each
// from two goroutines, overlapping: nothing fails with SQLITE_BUSY and
// every round ends at its last attempt.
func TestTwoStoresOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	stores := []*sqlitestore.Store{openAt(t, path, logstore.Options{Now: fixed}), openAt(t, path, logstore.Options{Now: fixed})}
	const events, attempts = 40, 3
	var all []*envelope.AttemptRecord
	for e := range events {
		base := storetest.Record("org-two", fmt.Sprintf("two-%02d", e), fixed().Add(-time.Hour+time.Duration(e)*time.Second))
		for n := 1; n < attempts; n++ {
			all = append(all, retry(base, 0, n, base.QueuedAt))
		}
		last := *base
		last.Attempt, last.StartedAt = attempts, base.QueuedAt.Add(attempts*time.Minute)
		all = append(all, &last)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		order := slices.Clone(all)
		if w%2 == 1 {
			slices.Reverse(order)
		}
		st := stores[w%2]
		wg.Go(func() {
			for batch := range slices.Chunk(order, 8+w) {
				if err := st.Write(t.Context(), batch); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	c, err := stores[0].Counts(t.Context(), "org-two", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if c[envelope.StateDelivered] != events || c[envelope.StateRetrying] != 0 {
		t.Errorf("Counts = %v, want %d delivered, 0 retrying", c, events)
	}
	tl, err := stores[1].Timeline(t.Context(), "", "two-07")
	if err != nil {
		t.Fatal(err)
	}
	if r := tl.Rounds[0]; r.Attempts != attempts || len(r.AttemptList) != attempts || !r.FirstAttemptAt.Equal(r.AttemptList[0].StartedAt) {
		t.Errorf("round = %d attempts, %d stored, first at %v; want %d, %d, %v",
			r.Attempts, len(r.AttemptList), r.FirstAttemptAt, attempts, attempts, r.AttemptList[0].StartedAt)
	}
}

// Prune deletes in batches until nothing old is left, and counts rounds.
func TestPruneBatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	s := openAt(t, path, logstore.Options{Now: fixed})
	sqlitestore.SetPruneBatch(s, 3)
	cutoff := fixed().Add(-24 * time.Hour)
	var batch []*envelope.AttemptRecord
	for i := range 10 {
		old := storetest.Record("org-pr", fmt.Sprintf("old-%d", i), cutoff.Add(-time.Duration(i+1)*time.Minute))
		last := *old
		last.Attempt = 2
		batch = append(batch, retry(old, 0, 1, old.QueuedAt), &last)
	}
	keep := storetest.Record("org-pr", "keep", cutoff)
	batch = append(batch, keep)
	write(t, s, batch...)
	n, err := s.Prune(t.Context(), cutoff)
	if err != nil || n != 10 {
		t.Fatalf("Prune = %d, %v; want 10, nil", n, err)
	}
	var rounds, attempts int
	db := rawDB(t, path)
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM deliveries), (SELECT count(*) FROM attempts)`).Scan(&rounds, &attempts); err != nil {
		t.Fatal(err)
	}
	if rounds != 1 || attempts != 1 {
		t.Errorf("after Prune: %d rounds, %d attempts; want 1, 1 (the round queued at the cutoff)", rounds, attempts)
	}
	if n, err := s.Prune(t.Context(), cutoff); err != nil || n != 0 {
		t.Errorf("Prune again = %d, %v; want 0, nil", n, err)
	}
}
