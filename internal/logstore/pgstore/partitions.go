package pgstore

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

// partitionLockKey is the transaction-scoped advisory lock taken around
// every partition DDL (create and drop), so that writer processes
// creating the same day at once do not collide on the catalog.
const partitionLockKey int64 = 0x77686c6f67 // "whlog"

// partitioned are the tables partitioned by day of queued_at.
var partitioned = []string{"deliveries", "attempts"}

// day is a UTC day, counted in days since the Unix epoch.
type day int64

// dayOf returns the UTC day of t.
func dayOf(t time.Time) day {
	sec := t.Unix()
	d := sec / 86400
	if sec%86400 < 0 {
		d-- // floor, for instants before 1970
	}
	return day(d)
}

// start returns the first instant of d.
func (d day) start() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// suffix returns the partition-name suffix of d: pYYYYMMDD.
func (d day) suffix() string { return d.start().Format("p20060102") }

// partitionName matches a partition of ours; its group is the day.
var partitionName = regexp.MustCompile(`^(?:deliveries|attempts)_p(\d{8})$`)

// ensurePartitions creates the partitions of both tables for every day in
// days that this process has not yet seen, in one short transaction of
// its own (so the write that follows does not hold the parent tables'
// DDL lock). Each day costs one DDL round trip per process.
func (s *Store) ensurePartitions(ctx context.Context, days map[day]bool) error {
	var missing []day
	s.mu.Lock()
	for d := range days {
		if !s.days[d] {
			missing = append(missing, d)
		}
	}
	s.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, partitionLockKey); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		b := &pgx.Batch{}
		for _, d := range missing {
			from, to := d.start().Format(time.RFC3339), (d + 1).start().Format(time.RFC3339)
			for _, table := range partitioned {
				b.Queue(fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s_%s PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')`,
					table, d.suffix(), table, from, to))
			}
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("create partitions from %s: %w", missing[0].start().Format(time.DateOnly), err)
	}
	s.mu.Lock()
	for _, d := range missing {
		s.days[d] = true
	}
	s.mu.Unlock()
	return nil
}

// forgetPartitions clears the memory of created partitions, after a write
// found one missing (another process pruned it).
func (s *Store) forgetPartitions() {
	s.mu.Lock()
	clear(s.days)
	s.mu.Unlock()
}

// Prune drops the partitions of both tables whose whole day ends at or
// before cutoff, with the replayed_events rows of those days, and returns -1: it deletes no rows, so it counts none.
// The rows of cutoff's own day are kept until a prune with a cutoff at or
// after that day's end (the next day's prune), so a round is kept between
// its retention and one day more.
func (s *Store) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	var dropped []day
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, partitionLockKey); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		names, err := partitionsOf(ctx, tx)
		if err != nil {
			return err
		}
		var drop []string
		for _, name := range names {
			m := partitionName.FindStringSubmatch(name)
			if m == nil {
				continue
			}
			t, err := time.Parse("20060102", m[1])
			if err != nil {
				continue
			}
			if d := dayOf(t); !(d + 1).start().After(cutoff) {
				drop = append(drop, pgx.Identifier{name}.Sanitize())
				dropped = append(dropped, d)
			}
		}
		// The days dropped are those before cutoff's own; an event whose
		// latest round was queued on one of them has no round left.
		kept := dayOf(cutoff).start()
		if _, err := tx.Exec(ctx, `DELETE FROM replayed_events WHERE queued_at < $1`, kept); err != nil {
			return fmt.Errorf("replayed events before %s: %w", kept.Format(time.DateOnly), err)
		}
		if len(drop) == 0 {
			return nil
		}
		b := &pgx.Batch{}
		for _, name := range drop {
			b.Queue(`DROP TABLE IF EXISTS ` + name)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return 0, fmt.Errorf("pgstore: prune before %s: %w", cutoff.UTC().Format(time.RFC3339), err)
	}
	s.mu.Lock()
	for _, d := range dropped {
		delete(s.days, d)
	}
	s.mu.Unlock()
	return -1, nil
}

// partitionsOf lists the partitions of the partitioned tables.
func partitionsOf(ctx context.Context, tx pgx.Tx) ([]string, error) {
	rows, err := tx.Query(ctx, `
		SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		JOIN pg_class p ON p.oid = i.inhparent
		WHERE p.relname = ANY($1) AND p.relnamespace = current_schema()::regnamespace
		ORDER BY c.relname`, partitioned)
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	return names, nil
}
