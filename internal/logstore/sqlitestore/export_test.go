package sqlitestore

// SetPruneBatch makes Prune of s delete n rows of each table per
// transaction, so that a test sees several batches with little data.
func SetPruneBatch(s *Store, n int64) { s.pruneBatch = n }
