package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/status"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// status prints the delivery status of an event, task or run.
func (c *cli) status(args []string) error {
	fs := newFlags("status")
	var q status.Query
	fs.StringVar(&q.EventID, "event-id", "", "event id")
	fs.StringVar(&q.TaskID, "task-id", "", "async job task id")
	fs.StringVar(&q.RunID, "run-id", "", "workflow run id")
	fs.StringVar(&q.OrgID, "org", "", "organization id (narrows the lookup)")
	asJSON := fs.Bool("json", false, "print JSON")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return usagef("status: unexpected argument %q", rest[0])
	}
	n := 0
	for _, v := range []string{q.EventID, q.TaskID, q.RunID} {
		if v != "" {
			n++
		}
	}
	switch {
	case n != 1:
		return usagef("status needs exactly one of --event-id, --task-id or --run-id")
	case q.EventID != "" && !envelope.ValidOrgID(q.EventID):
		return usagef("--event-id %q is not an event id", q.EventID)
	case q.OrgID != "" && !envelope.ValidOrgID(q.OrgID):
		return usagef("--org %q must match [A-Za-z0-9_-]{1,64}", q.OrgID)
	}
	store, err := c.openLog()
	if err != nil {
		return err
	}
	defer store.Close()
	s, err := c.connect()
	if err != nil {
		return err
	}
	defer s.close()
	out, err := status.Lookup(c.ctx, store, s.js, s.streams, q)
	switch {
	case errors.Is(err, status.ErrNotFound):
		return fmt.Errorf("%w (the delivery log keeps LOG_RETENTION, 14 days by default)", status.ErrNotFound)
	case errors.Is(err, status.ErrInvalidQuery):
		return usageError{err}
	case err != nil:
		return explain(err)
	}
	if *asJSON {
		return printJSON(c.out, out)
	}
	for i, st := range out {
		if i > 0 {
			fmt.Fprintln(c.out)
		}
		c.printStatus(st)
	}
	return nil
}

// printStatus writes one status as aligned "key: value" lines.
func (c *cli) printStatus(st status.Status) {
	tw := tabwriter.NewWriter(c.out, 0, 0, 1, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	when := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	row("Event", st.EventID)
	row("Organization", st.OrgID)
	row("Source", st.Source)
	row("Type", st.EventType)
	row("Task", st.TaskID)
	row("Run", st.RunID)
	row("Host", st.Host)
	row("State", st.State)
	row("Attempts", fmt.Sprint(st.Attempts))
	row("Last status", fmt.Sprint(st.StatusCode))
	row("Last error", st.Error)
	row("Response", oneLine(st.ResponseExcerpt, 120))
	if st.WebhookStatusCode != nil && st.WebhookSuccess != nil && st.WebhookResponse != nil {
		row("Block columns", fmt.Sprintf("webhook_status_code=%d webhook_success=%t webhook_response=%q",
			*st.WebhookStatusCode, *st.WebhookSuccess, oneLine(*st.WebhookResponse, 80)))
	}
	row("Queued", when(st.QueuedAt))
	row("First attempt", when(st.FirstAttemptAt))
	row("Last attempt", when(st.LastAttemptAt))
	if st.NextAttemptAt != nil {
		row("Next attempt", when(*st.NextAttemptAt))
	}
	row("Replay", replayText(st))
	if p := st.PreviousRound; p != nil {
		prev := fmt.Sprintf("%s: %s after %s, last status %d", roundName(p.Replay), p.State, attempts(p.Attempts), p.StatusCode)
		if p.Error != "" {
			prev += " (" + oneLine(p.Error, 80) + ")"
		}
		row("Previous round", prev)
	}
	row("In undelivered", fmt.Sprint(st.InUndelivered))
	if st.State == envelope.StateUndelivered && !st.InUndelivered {
		row("Note", "no longer in the undelivered stream, and no replay of it waits on WEBHOOKS: purged or expired "+
			"(or a replay's first attempt is not in the delivery log yet)")
	}
	_ = tw.Flush()
}

// replayText says which round a status reports and how far it got.
func replayText(st status.Status) string {
	switch {
	case st.Replay == 0:
		return "0 (the original delivery)"
	case st.ReplayQueued:
		return fmt.Sprintf("%d, queued on WEBHOOKS: no attempt yet", st.Replay)
	case !st.Final:
		return fmt.Sprintf("%d, under way: %s so far", st.Replay, attempts(st.Attempts))
	default:
		return fmt.Sprintf("%d, done: %s after %s", st.Replay, st.State, attempts(st.Attempts))
	}
}

// attempts says "1 attempt" or "n attempts".
func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}

// roundName names a delivery round.
func roundName(replay int) string {
	if replay == 0 {
		return "original delivery"
	}
	return fmt.Sprintf("replay %d", replay)
}
