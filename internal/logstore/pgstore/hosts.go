package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
)

// Hosts returns the statistics of each destination host over the attempts
// started in [from, to) (a zero bound is open) of orgID ("" for all),
// slowest first, at most limit (see logstore.Store). It reads the window
// from the partial indexes of each partition (migration 00005), which hold
// only the attempts that record their host. The partitions are by
// queued_at, which the query leaves out (a condition on it would have the
// rows read): the index of a partition outside the window costs one
// descent.
func (s *Store) Hosts(ctx context.Context, orgID string, from, to time.Time, limit int) ([]logstore.HostStat, error) {
	limit, err := logstore.CheckHosts(orgID, from, to, limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: hosts: %w", err)
	}
	w := where{}
	w.add("host <> ''")
	if orgID != "" {
		w.add("org_id = $", orgID)
	}
	if !from.IsZero() {
		w.add("started_at >= $", logstore.Truncate(from))
	}
	if !to.IsZero() {
		w.add("started_at < $", logstore.Truncate(to))
	}
	// The first grouped scan reads attempts_started or
	// attempts_org_started only; the second, which counts the circuit's
	// refusals, attempts_refused and the error text of the few attempts
	// there (its conditions are written as in the index). The text is the
	// last parameter.
	args := append(w.args, logstore.CircuitOpenText)
	rows, err := s.pool.Query(ctx, `SELECT s.host, s.n, s.failed, coalesce(c.n, 0), s.avg_ms, s.max_ms, s.last FROM (
	SELECT host, count(*) AS n, count(*) FILTER (WHERE decision <> 'delivered') AS failed,
		coalesce(avg(duration_ms) FILTER (WHERE sent), 0) AS avg_ms,
		coalesce(max(duration_ms) FILTER (WHERE sent), 0) AS max_ms, max(started_at) AS last
	FROM attempts `+w.sql()+` GROUP BY host) s
	LEFT JOIN (SELECT host, count(*) AS n FROM attempts `+w.sql()+`
		AND NOT sent AND error_class = 'connection' AND strpos(error, $`+strconv.Itoa(len(args))+`) > 0 GROUP BY host) c USING (host)
	ORDER BY s.avg_ms DESC, s.host LIMIT `+strconv.Itoa(limit), args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: hosts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (logstore.HostStat, error) {
		var h logstore.HostStat
		err := row.Scan(&h.Host, &h.Attempts, &h.Failures, &h.CircuitOpen, &h.AvgDurationMS, &h.MaxDurationMS, &h.LastAttemptAt)
		h.LastAttemptAt = h.LastAttemptAt.UTC()
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: hosts: %w", err)
	}
	if out == nil {
		out = []logstore.HostStat{}
	}
	return out, nil
}
