package pgstore

import (
	"cmp"
	"slices"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// batch is a Write's records prepared for the statements: cleaned, one
// per attempt key (event_id, replay, attempt, queued_at), sorted by key so
// that concurrent writers lock rows in one order.
type batch struct {
	attempts []*envelope.AttemptRecord
	days     map[day]bool
}

// round is one round of the attempts newly stored by a write: its record
// of the highest attempt, and the earliest start of its records.
type round struct {
	latest *envelope.AttemptRecord
	first  time.Time
}

// roundKey identifies a round row.
type roundKey struct {
	eventID  string
	replay   int
	queuedAt int64 // Unix microseconds
}

// attemptKey identifies an attempt row.
type attemptKey struct {
	roundKey
	attempt int
}

// keyOf returns the attempt key of r.
func keyOf(r *envelope.AttemptRecord) attemptKey {
	return attemptKey{roundKey{r.EventID, r.Replay, r.QueuedAt.UnixMicro()}, r.Attempt}
}

// prepare cleans recs, skipping nil records, those queued before the
// retention, and repeats of an attempt key (the first one is kept).
func (s *Store) prepare(recs []*envelope.AttemptRecord) *batch {
	oldest := s.opts.Now().Add(-s.opts.Retention)
	b := &batch{days: make(map[day]bool)}
	seen := make(map[attemptKey]bool, len(recs))
	for _, r := range recs {
		if r == nil || r.QueuedAt.Before(oldest) {
			continue
		}
		r = clean(r)
		if k := keyOf(r); !seen[k] {
			seen[k] = true
			b.attempts = append(b.attempts, r)
			b.days[dayOf(r.QueuedAt)] = true
		}
	}
	slices.SortFunc(b.attempts, func(x, y *envelope.AttemptRecord) int {
		return cmp.Or(compareRound(x, y), cmp.Compare(x.Attempt, y.Attempt))
	})
	return b
}

// fold returns the rounds of attempts (sorted by key, as prepare leaves
// them), one per (event_id, replay, queued_at): PostgreSQL refuses an
// upsert that touches one row twice.
func fold(attempts []*envelope.AttemptRecord) (rounds []*round) {
	for _, r := range attempts {
		if n := len(rounds); n > 0 && compareRound(rounds[n-1].latest, r) == 0 {
			rd := rounds[n-1]
			if r.StartedAt.Before(rd.first) {
				rd.first = r.StartedAt
			}
			if r.Attempt > rd.latest.Attempt {
				rd.latest = r
			}
			continue
		}
		rounds = append(rounds, &round{latest: r, first: r.StartedAt})
	}
	return rounds
}

// compareRound orders records by round key.
func compareRound(x, y *envelope.AttemptRecord) int {
	return cmp.Or(cmp.Compare(x.EventID, y.EventID), cmp.Compare(x.Replay, y.Replay), x.QueuedAt.Compare(y.QueuedAt))
}
