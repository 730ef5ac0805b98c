package sqlitestore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
)

// TestQueryPlans: every query of the store reads through an index, never
// by scanning a whole table: the log holds millions of rows.
func TestQueryPlans(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "d.db"), logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2025, 1, 15, 12, 0, 0, 0, time.UTC)
	search := func(q logstore.Query) (string, []any) {
		c, err := q.Check()
		if err != nil {
			t.Fatal(err)
		}
		return searchSQL(c)
	}
	cursor := logstore.Cursor{OrgID: "org", QueuedAt: now, EventID: "e1"}.Encode()
	type query struct {
		name string
		sql  string
		args []any
	}
	var queries []query // scans allowed: none but "search all"
	add := func(name, sql string, args []any) { queries = append(queries, query{name, sql, args}) }
	for name, q := range map[string]logstore.Query{
		"search org":          {OrgID: "org"},
		"search org, cursor":  {OrgID: "org", Cursor: cursor},
		"search org, state":   {OrgID: "org", State: "delivered", From: now.Add(-time.Hour)},
		"search org, filters": {OrgID: "org", Source: "job", EventType: "x", Host: "h", StatusClass: "5xx", To: now},
		"search all":          {},
		"search all, window":  {From: now.Add(-time.Hour), To: now},
	} {
		sql, args := search(q)
		add(name, sql, args)
	}
	for name, org := range map[string]string{"counts org": "org", "counts all": ""} {
		sql, args := countsSQL(org, now.Add(-time.Hour), now)
		add(name, sql, args)
	}
	for _, by := range []logstore.FindBy{logstore.ByEventID, logstore.ByTaskID, logstore.ByRunID} {
		col, _ := findColumn(by)
		sql, args := findSQL(col, "x", "org")
		add("find "+string(by), sql, args)
		sql, args = findSQL(col, "x", "")
		add("find "+string(by)+", any org", sql, args)
	}
	for name, org := range map[string]string{"hosts org": "org", "hosts all": ""} {
		sql, args := hostsSQL(org, now.Add(-time.Hour), now, 10)
		add(name, sql, args)
		sql, args = hostsSQL(org, now.Add(-time.Hour), time.Time{}, 10)
		add(name+", to open", sql, args)
	}
	add("timeline rounds", timelineRounds, []any{"e", "org"})
	add("timeline attempts", timelineAttempts, []any{"e"})
	for _, table := range []string{"deliveries", "attempts"} {
		add("prune "+table, pruneSelect(table), []any{1, 10})
	}
	for _, q := range queries {
		plan := explain(t, s, q.sql, q.args)
		for _, want := range strings.Split(wantIndex(q.name), "\n") {
			if !strings.Contains(strings.Join(plan, "\n"), want) {
				t.Errorf("%s: plan does not use %s:\n  %s", q.name, want, strings.Join(plan, "\n  "))
			}
		}
		for _, line := range plan {
			// A search of everything walks the index in page order and stops
			// after one page: the only scan of a table allowed (a scan of a
			// subquery's few rows, "SCAN s", is no table's).
			scansTable := strings.HasPrefix(line, "SCAN deliveries") || strings.HasPrefix(line, "SCAN attempts")
			if scansTable && line != "SCAN deliveries USING INDEX deliveries_time" {
				t.Errorf("%s: plan scans a table:\n  %s", q.name, strings.Join(plan, "\n  "))
			}
		}
	}
}

// wantIndex returns the index a query must use, by the query's name (the
// indexes, one a line, when it must use several).
func wantIndex(name string) string {
	switch {
	case name == "search org, state":
		return "USING INDEX deliveries_org_state"
	case name == "search org, filters":
		return "USING INDEX deliveries_org_class"
	case strings.HasPrefix(name, "search org"), name == "counts org":
		return "USING INDEX deliveries_org_time"
	case strings.HasPrefix(name, "search all"), name == "counts all":
		return "USING INDEX deliveries_time"
	case strings.HasPrefix(name, "find event_id"), name == "timeline rounds":
		return "USING INDEX sqlite_autoindex_deliveries_1 (event_id=?)"
	case strings.HasPrefix(name, "find task_id"):
		return "USING INDEX deliveries_task (task_id=?)"
	case strings.HasPrefix(name, "find run_id"):
		return "USING INDEX deliveries_run (run_id=?)"
	case name == "timeline attempts":
		return "USING INDEX sqlite_autoindex_attempts_1 (event_id=?)"
	case strings.HasPrefix(name, "hosts org"):
		return "USING COVERING INDEX attempts_org_started (org_id=? AND started_at>?\nUSING INDEX attempts_refused (started_at>?"
	case strings.HasPrefix(name, "hosts all"):
		return "USING COVERING INDEX attempts_started (started_at>?\nUSING INDEX attempts_refused (started_at>?"
	case name == "prune deliveries":
		return "USING COVERING INDEX deliveries_time (queued_at<?)"
	case name == "prune attempts":
		return "USING COVERING INDEX attempts_time (queued_at<?)"
	}
	return "no index named for " + name
}

// explain returns the lines of the query plan of query.
func explain(t *testing.T, s *Store, query string, args []any) []string {
	t.Helper()
	rows, err := s.db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN %s: %v", query, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
