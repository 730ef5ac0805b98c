package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
)

// where builds a WHERE clause: each condition's "$" placeholders are
// numbered in order, one argument each.
type where struct {
	conds []string
	args  []any
}

// add appends a condition holding one "$" per argument.
func (w *where) add(cond string, args ...any) {
	parts := strings.Split(cond, "$")
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			w.args = append(w.args, args[i-1])
			b.WriteString("$" + strconv.Itoa(len(w.args)))
		}
		b.WriteString(p)
	}
	w.conds = append(w.conds, b.String())
}

// sql returns the clause, "" for no condition.
func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return "WHERE " + strings.Join(w.conds, " AND ")
}

// Search returns one page of the latest (not superseded) rounds that match
// q, newest first in the order (queued_at, event_id, replay) descending,
// with Next set when more follow. A query that fails q.Check is its error,
// unchanged.
func (s *Store) Search(ctx context.Context, q logstore.Query) (*logstore.Page, error) {
	c, err := q.Check()
	if err != nil {
		return nil, err
	}
	w := where{}
	w.add("NOT superseded")
	if c.OrgID != "" {
		w.add("org_id = $", c.OrgID)
	}
	if !c.From.IsZero() {
		w.add("queued_at >= $", c.From)
	}
	if !c.To.IsZero() {
		w.add("queued_at < $", c.To)
	}
	for _, f := range []struct{ col, v string }{
		{"state", c.State}, {"source", c.Source}, {"event_type", c.EventType}, {"host", c.Host},
	} {
		if f.v != "" {
			w.add(f.col+" = $", f.v)
		}
	}
	if c.StatusRange != nil {
		w.add("status_class = $", c.StatusRange[0]/100) // status_code / 100, indexed (migration 00002)
	}
	if c.After != nil {
		w.add("(queued_at, event_id, replay) < ($, $, $)", c.After.QueuedAt, c.After.EventID, c.After.Replay)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries `+w.sql()+
		` ORDER BY queued_at DESC, event_id DESC, replay DESC LIMIT `+strconv.Itoa(c.Limit+1), w.args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: search: %w", err)
	}
	found, err := pgx.CollectRows(rows, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("pgstore: search: %w", err)
	}
	page := &logstore.Page{Deliveries: found}
	if page.Deliveries == nil {
		page.Deliveries = []logstore.Delivery{}
	}
	if len(found) > c.Limit {
		page.Deliveries = found[:c.Limit]
		page.Next = logstore.NextCursor(q.OrgID, page.Deliveries[c.Limit-1])
	}
	return page, nil
}
