package storetest

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// TestRun runs the suite against memStore, the contract in a few maps.
func TestRun(t *testing.T) {
	Run(t, func(t *testing.T, opts logstore.Options) logstore.Store {
		return &memStore{opts: opts.WithDefaults(), events: map[string]map[int]*logstore.Round{}, markers: map[string]bool{}}
	})
}

// memStore is the reference implementation of logstore.Store: every
// round of every event in memory, behind one mutex. It is not fast.
type memStore struct {
	opts    logstore.Options
	mu      sync.Mutex
	events  map[string]map[int]*logstore.Round // event id → replay → round
	markers map[string]bool
}

func (m *memStore) Write(ctx context.Context, recs []*envelope.AttemptRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cutoff := m.opts.Now().Add(-m.opts.Retention)
	for _, r := range recs {
		if !r.QueuedAt.Before(cutoff) {
			m.add(r)
		}
	}
	return nil
}

// add stores r unless its attempt is stored, and moves its round to it
// when it is the round's latest attempt.
func (m *memStore) add(r *envelope.AttemptRecord) {
	rounds := m.events[r.EventID]
	if rounds == nil {
		rounds = map[int]*logstore.Round{}
		m.events[r.EventID] = rounds
	}
	rd := rounds[r.Replay]
	if rd == nil {
		rd = &logstore.Round{Delivery: deliveryOf(r, r)}
		rounds[r.Replay] = rd
	} else if slices.ContainsFunc(rd.AttemptList, func(a logstore.Attempt) bool { return a.Attempt == r.Attempt }) {
		return
	}
	rd.AttemptList = append(rd.AttemptList, attemptOf(r))
	slices.SortFunc(rd.AttemptList, func(a, b logstore.Attempt) int { return cmp.Compare(a.Attempt, b.Attempt) })
	first := rd.FirstAttemptAt
	if r.Attempt > rd.Attempts {
		rd.Delivery = deliveryOf(r, r)
	}
	rd.FirstAttemptAt = first
	if start := logstore.Truncate(r.StartedAt); start.Before(first) {
		rd.FirstAttemptAt = start
	}
	latest := slices.Max(slices.Collect(maps.Keys(rounds)))
	for replay, o := range rounds {
		o.Superseded = replay < latest
	}
}

func (m *memStore) Timeline(ctx context.Context, orgID, eventID string) (*logstore.Timeline, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rounds := m.events[eventID]
	tl := &logstore.Timeline{EventID: eventID}
	for _, replay := range slices.Sorted(maps.Keys(rounds)) {
		rd := *rounds[replay]
		rd.AttemptList = slices.Clone(rd.AttemptList)
		tl.OrgID, tl.Rounds = rd.OrgID, append(tl.Rounds, rd)
	}
	if len(tl.Rounds) == 0 || orgID != "" && orgID != tl.OrgID {
		return nil, fmt.Errorf("timeline of %s: %w", eventID, logstore.ErrNotFound)
	}
	return tl, nil
}

// latest returns the latest rounds that keep reports true, in the search
// order (newest first).
func (m *memStore) latest(keep func(d logstore.Delivery) bool) []logstore.Delivery {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []logstore.Delivery
	for _, rounds := range m.events {
		for _, rd := range rounds {
			if !rd.Superseded && keep(rd.Delivery) {
				out = append(out, rd.Delivery)
			}
		}
	}
	slices.SortFunc(out, func(a, b logstore.Delivery) int { return compareKey(b, a.QueuedAt, a.EventID, a.Replay) })
	return out
}

// compareKey orders d against the key (queued_at, event_id, replay).
func compareKey(d logstore.Delivery, q time.Time, eventID string, replay int) int {
	return cmp.Or(d.QueuedAt.Compare(q), cmp.Compare(d.EventID, eventID), cmp.Compare(d.Replay, replay))
}

func (m *memStore) Search(ctx context.Context, q logstore.Query) (*logstore.Page, error) {
	c, err := q.Check()
	if err != nil {
		return nil, err
	}
	rows := m.latest(func(d logstore.Delivery) bool {
		return (c.OrgID == "" || d.OrgID == c.OrgID) &&
			(c.From.IsZero() || !d.QueuedAt.Before(c.From)) && (c.To.IsZero() || d.QueuedAt.Before(c.To)) &&
			(c.State == "" || d.State == c.State) && (c.Source == "" || string(d.Source) == c.Source) &&
			(c.EventType == "" || d.EventType == c.EventType) && (c.Host == "" || d.Host == c.Host) &&
			(c.StatusRange == nil || d.StatusCode >= c.StatusRange[0] && d.StatusCode <= c.StatusRange[1]) &&
			(c.After == nil || compareKey(d, c.After.QueuedAt, c.After.EventID, c.After.Replay) < 0)
	})
	p := &logstore.Page{Deliveries: rows[:min(len(rows), c.Limit)]}
	if len(rows) > c.Limit {
		p.Next = logstore.NextCursor(q.OrgID, rows[c.Limit-1])
	}
	return p, nil
}

func (m *memStore) Counts(ctx context.Context, orgID string, from, to time.Time) (map[string]int64, error) {
	out := map[string]int64{envelope.StateRetrying: 0, envelope.StateDelivered: 0, envelope.StateUndelivered: 0}
	for _, d := range m.latest(func(d logstore.Delivery) bool {
		return (orgID == "" || d.OrgID == orgID) && !d.QueuedAt.Before(from) && d.QueuedAt.Before(to)
	}) {
		out[d.State]++
	}
	return out, nil
}

func (m *memStore) Find(ctx context.Context, by logstore.FindBy, id, orgID string) ([]logstore.Delivery, error) {
	field := map[logstore.FindBy]func(d logstore.Delivery) string{
		logstore.ByEventID: func(d logstore.Delivery) string { return d.EventID },
		logstore.ByTaskID:  func(d logstore.Delivery) string { return d.TaskID },
		logstore.ByRunID:   func(d logstore.Delivery) string { return d.RunID },
	}[by]
	if field == nil {
		return nil, fmt.Errorf("%w: find by %q", logstore.ErrInvalidQuery, by)
	}
	out := m.latest(func(d logstore.Delivery) bool { return field(d) == id && (orgID == "" || d.OrgID == orgID) })
	slices.Reverse(out)
	return out[:min(len(out), logstore.MaxFindResults)], nil
}

func (m *memStore) Hosts(ctx context.Context, orgID string, from, to time.Time, limit int) ([]logstore.HostStat, error) {
	limit, err := logstore.CheckHosts(orgID, from, to, limit)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	stats := map[string]*logstore.HostStat{}
	sent := map[string]int64{}
	for _, rounds := range m.events {
		for _, rd := range rounds {
			if rd.Host == "" || orgID != "" && rd.OrgID != orgID {
				continue
			}
			for _, a := range rd.AttemptList {
				if !from.IsZero() && a.StartedAt.Before(from) || !to.IsZero() && !a.StartedAt.Before(to) {
					continue
				}
				h := stats[rd.Host]
				if h == nil {
					h = &logstore.HostStat{Host: rd.Host}
					stats[rd.Host] = h
				}
				h.Attempts++
				if a.Decision != envelope.DecisionDelivered {
					h.Failures++
				}
				if !a.Sent && a.ErrorClass == "connection" && strings.Contains(a.Error, logstore.CircuitOpenText) {
					h.CircuitOpen++
				}
				if a.Sent {
					sent[rd.Host]++
					h.AvgDurationMS += a.DurationMS // a sum until the end
					h.MaxDurationMS = max(h.MaxDurationMS, a.DurationMS)
				}
				if a.StartedAt.After(h.LastAttemptAt) {
					h.LastAttemptAt = a.StartedAt
				}
			}
		}
	}
	out := []logstore.HostStat{}
	for host, h := range stats {
		if n := sent[host]; n > 0 {
			h.AvgDurationMS /= float64(n)
		}
		out = append(out, *h)
	}
	slices.SortFunc(out, func(x, y logstore.HostStat) int {
		return cmp.Or(cmp.Compare(y.AvgDurationMS, x.AvgDurationMS), cmp.Compare(x.Host, y.Host))
	})
	return out[:min(len(out), limit)], nil
}

func (m *memStore) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for id, rounds := range m.events {
		for replay, rd := range rounds {
			if rd.QueuedAt.Before(cutoff) {
				delete(rounds, replay)
				n++
			}
		}
		if len(rounds) == 0 {
			delete(m.events, id)
		}
	}
	return n, nil
}

func (m *memStore) Marker(ctx context.Context, name string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.markers[name], nil
}

func (m *memStore) SetMarker(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.markers[name] = true
	return nil
}

func (m *memStore) Ping(ctx context.Context) error { return ctx.Err() }
func (m *memStore) Close() error                   { return nil }
