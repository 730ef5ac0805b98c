package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// testConcurrentWriters: four writers store the same 200 records at once,
// each in its own order and batch size (as redelivered batches overlap);
// every attempt is stored once and every round ends at its highest
// attempt.
func testConcurrentWriters(t *testing.T, s suite) {
	st := s.store(t)
	const org, events, attempts = "org-cc", 50, 4
	t0 := fixedNow().Add(-7 * time.Hour)
	var recs []*envelope.AttemptRecord
	var want []*logstore.Timeline
	for e := range events {
		base := Record(org, fmt.Sprintf("cc-%02d", e), t0.Add(time.Duration(e)*time.Second))
		var round []*envelope.AttemptRecord
		for n := 1; n <= attempts; n++ {
			decision := retry
			if n == attempts {
				decision = delivered
			}
			round = append(round, attempt(base, 0, n, decision, 200))
		}
		recs = append(recs, round...)
		want = append(want, timelineOf(roundOf(round...)))
	}

	var wg sync.WaitGroup
	for w, size := range []int{7, 25, 60, 200} {
		order := slices.Clone(recs)
		switch w {
		case 0:
		case 1:
			slices.Reverse(order)
		default:
			rand.New(rand.NewPCG(uint64(w), 0)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		wg.Go(func() {
			for batch := range slices.Chunk(order, size) {
				if err := st.Write(t.Context(), batch); err != nil {
					t.Errorf("writer %d: Write(%d records): %v", w, len(batch), err)
					return
				}
			}
		})
	}
	wg.Wait()

	for _, tl := range want {
		checkTimeline(t, st, tl)
	}
	p := search(t, st, logstore.Query{OrgID: org, Limit: logstore.MaxLimit})
	if len(p.Deliveries) != events {
		t.Errorf("Search(org-cc) = %d rounds, want %d", len(p.Deliveries), events)
	}
	checkCounts(t, "Counts(org-cc)", counts(t, st, org, allFrom(), allTo()), 0, events, 0)
}
