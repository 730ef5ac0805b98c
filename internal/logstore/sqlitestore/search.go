package sqlitestore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// where builds a WHERE clause of "?" conditions.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) sql() string { return "WHERE " + strings.Join(w.conds, " AND ") }

// Counts returns the latest (not superseded) rounds per state queued in
// [from, to) (a zero bound is open); the map always holds the three states.
func (s *Store) Counts(ctx context.Context, orgID string, from, to time.Time) (map[string]int64, error) {
	query, args := countsSQL(orgID, from, to)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: counts: %w", err)
	}
	defer rows.Close()
	counts := map[string]int64{envelope.StateRetrying: 0, envelope.StateDelivered: 0, envelope.StateUndelivered: 0}
	for rows.Next() {
		var state string
		var n int64
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("sqlitestore: counts: %w", err)
		}
		counts[state] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: counts: %w", err)
	}
	return counts, nil
}

// countsSQL returns the query of Counts and its arguments.
func countsSQL(orgID string, from, to time.Time) (string, []any) {
	w := where{}
	w.add("superseded = 0")
	if orgID != "" {
		w.add("org_id = ?", orgID)
	}
	if !from.IsZero() {
		w.add("queued_at >= ?", micros(from))
	}
	if !to.IsZero() {
		w.add("queued_at < ?", micros(to))
	}
	return `SELECT state, count(*) FROM deliveries ` + w.sql() + ` GROUP BY state`, w.args
}

// Search returns one page of the latest rounds that match q, newest first
// in the order (queued_at, event_id, replay) descending.
func (s *Store) Search(ctx context.Context, q logstore.Query) (*logstore.Page, error) {
	c, err := q.Check()
	if err != nil {
		return nil, err
	}
	query, args := searchSQL(c)
	found, err := s.queryDeliveries(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: search: %w", err)
	}
	page := &logstore.Page{Deliveries: found}
	if len(found) > c.Limit {
		page.Deliveries = found[:c.Limit]
		page.Next = logstore.NextCursor(q.OrgID, page.Deliveries[c.Limit-1])
	}
	return page, nil
}

// searchSQL returns the query of a search and its arguments: Limit+1
// rows, to tell whether a next page exists.
func searchSQL(c logstore.Checked) (string, []any) {
	w := where{}
	w.add("superseded = 0")
	if c.OrgID != "" {
		w.add("org_id = ?", c.OrgID)
	}
	if !c.From.IsZero() {
		w.add("queued_at >= ?", micros(c.From))
	}
	if !c.To.IsZero() {
		w.add("queued_at < ?", micros(c.To))
	}
	for _, f := range []struct{ col, v string }{
		{"state", c.State}, {"source", c.Source}, {"event_type", c.EventType}, {"host", c.Host},
	} {
		if f.v != "" {
			w.add(f.col+" = ?", f.v)
		}
	}
	if c.StatusRange != nil {
		w.add("status_class = ?", c.StatusRange[0]/100) // status_code / 100, indexed (migration 00002)
	}
	if c.After != nil {
		w.add("(queued_at, event_id, replay) < (?, ?, ?)", micros(c.After.QueuedAt), c.After.EventID, c.After.Replay)
	}
	return `SELECT ` + deliveryColumns + ` FROM deliveries ` + w.sql() +
		` ORDER BY queued_at DESC, event_id DESC, replay DESC LIMIT ?`, append(w.args, c.Limit+1)
}
