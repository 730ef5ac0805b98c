package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// PruneBatch is how many rows of each table one Prune transaction
// deletes, so that writers are never held for long.
const PruneBatch = 5000

// Prune deletes the rounds and attempts queued before cutoff, at most
// PruneBatch rows of each table per transaction (writers of this Store
// get their turn between two), until none is left, and returns the
// rounds deleted. On an error it returns the rounds deleted until then.
func (s *Store) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	before := micros(cutoff)
	var total int64
	for {
		var rounds, attempts int64
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			var err error
			if rounds, err = deleteBatch(ctx, tx, "deliveries", before, s.pruneBatch); err != nil {
				return err
			}
			attempts, err = deleteBatch(ctx, tx, "attempts", before, s.pruneBatch)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("sqlitestore: prune %s before %s: %w", s.path, cutoff.UTC().Format(time.RFC3339), err)
		}
		total += rounds
		if rounds < s.pruneBatch && attempts < s.pruneBatch {
			return total, nil
		}
	}
}

// deleteBatch deletes up to limit rows of table queued before (Unix
// microseconds), found through its queued_at index.
func deleteBatch(ctx context.Context, tx *sql.Tx, table string, before, limit int64) (int64, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE rowid IN (`+pruneSelect(table)+`)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", table, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", table, err)
	}
	return n, nil
}

// pruneSelect selects the rowids of rows of table queued before the first
// argument (Unix microseconds), at most the second.
func pruneSelect(table string) string {
	return `SELECT rowid FROM ` + table + ` WHERE queued_at < ? LIMIT ?`
}
