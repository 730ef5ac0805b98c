package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
)

// Hosts returns the statistics of each destination host over the attempts
// started in [from, to) (a zero bound is open) of orgID ("" for all),
// slowest first, at most limit (see logstore.Store). It reads the window
// from the indexes of migration 00004, which hold only the attempts that
// record their host.
func (s *Store) Hosts(ctx context.Context, orgID string, from, to time.Time, limit int) ([]logstore.HostStat, error) {
	limit, err := logstore.CheckHosts(orgID, from, to, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: hosts: %w", err)
	}
	query, args := hostsSQL(orgID, from, to, limit)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: hosts: %w", err)
	}
	defer rows.Close()
	out := []logstore.HostStat{}
	for rows.Next() {
		var h logstore.HostStat
		var last int64
		if err := rows.Scan(&h.Host, &h.Attempts, &h.Failures, &h.CircuitOpen, &h.AvgDurationMS, &h.MaxDurationMS, &last); err != nil {
			return nil, fmt.Errorf("sqlitestore: hosts: %w", err)
		}
		h.LastAttemptAt = fromMicros(last)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: hosts: %w", err)
	}
	return out, nil
}

// hostsSQL returns the query of Hosts and its arguments. Its first
// grouped scan of the window reads only the covering index
// attempts_started or attempts_org_started; the second, which counts the
// circuit's refusals, reads the partial index attempts_refused (named:
// the planner, which does not know how few rows it holds, would take the
// organization's index) and the error text of the few attempts there. The
// conditions on host, sent and error_class are written as in the partial
// indexes' WHERE clauses, which is how the planner knows that it may use
// them.
func hostsSQL(orgID string, from, to time.Time, limit int) (string, []any) {
	w := where{}
	w.add("host <> ''")
	if orgID != "" {
		w.add("org_id = ?", orgID)
	}
	if !from.IsZero() {
		w.add("started_at >= ?", micros(from))
	}
	if !to.IsZero() {
		w.add("started_at < ?", micros(to))
	}
	args := append(append(append([]any{}, w.args...), w.args...), logstore.CircuitOpenText, limit)
	return `SELECT s.host, s.n, s.failed, coalesce(c.n, 0), s.avg_ms, s.max_ms, s.last FROM (
	SELECT host, count(*) AS n, sum(decision <> 'delivered') AS failed,
		coalesce(avg(CASE WHEN sent THEN duration_ms END), 0) AS avg_ms,
		coalesce(max(CASE WHEN sent THEN duration_ms END), 0) AS max_ms, max(started_at) AS last
	FROM attempts ` + w.sql() + ` GROUP BY host) s
	LEFT JOIN (SELECT host, count(*) AS n FROM attempts INDEXED BY attempts_refused ` + w.sql() + `
		AND sent = 0 AND error_class = 'connection' AND instr(error, ?) > 0 GROUP BY host) c USING (host)
	ORDER BY s.avg_ms DESC, s.host LIMIT ?`, args
}
