package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// followEvery is how often log --follow reads the log again.
const followEvery = time.Second

// log searches the delivery log, or prints one event's attempt timeline.
func (c *cli) log(args []string) error {
	fs := newFlags("log")
	var q logstore.Query
	var since, until, eventID string
	fs.StringVar(&q.OrgID, "org", "", "organization id")
	fs.StringVar(&q.State, "state", "", "retrying, delivered or undelivered")
	fs.StringVar(&q.Source, "source", "", "job or workflow")
	fs.StringVar(&q.EventType, "type", "", "event type")
	fs.StringVar(&q.Host, "host", "", "destination host")
	fs.StringVar(&q.StatusClass, "status", "", "status class of the last attempt: 2xx, 3xx, 4xx, 5xx or none")
	fs.StringVar(&since, "since", "", "queued at or after: RFC 3339 or a duration ago (2h)")
	fs.StringVar(&until, "until", "", "queued before: RFC 3339 or a duration ago")
	fs.IntVar(&q.Limit, "limit", logstore.DefaultLimit, "rows per page (1..500)")
	fs.StringVar(&q.Cursor, "cursor", "", "continue from the cursor a previous page printed")
	fs.StringVar(&eventID, "event-id", "", "print this event's attempt timeline instead")
	asJSON := fs.Bool("json", false, "print JSON")
	follow := fs.Bool("follow", false, "keep printing rounds as they are queued or change (newest rounds, up to the limit per second)")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return usagef("log: unexpected argument %q", rest[0])
	}
	var err error
	if q.From, err = parseWhen(since, c.now()); err != nil {
		return usagef("--since: %v", err)
	}
	if q.To, err = parseWhen(until, c.now()); err != nil {
		return usagef("--until: %v", err)
	}
	if eventID != "" && !envelope.ValidOrgID(eventID) {
		return usagef("--event-id %q is not an event id", eventID)
	}
	if _, err := q.Check(); err != nil {
		return usageError{err}
	}
	store, err := c.openLog()
	if err != nil {
		return err
	}
	defer store.Close()
	switch {
	case eventID != "":
		return c.timeline(store, q.OrgID, eventID, *asJSON)
	case *follow:
		return c.follow(store, q, *asJSON)
	}
	page, err := store.Search(c.ctx, q)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.out, page)
	}
	printRounds(c.out, page.Deliveries, true)
	if page.Next != "" {
		fmt.Fprintf(c.out, "\nMore: webhooksctl log --cursor %s (with the same filters)\n", page.Next)
	}
	return nil
}

// timeline prints every round of an event with its attempts.
func (c *cli) timeline(store logstore.Store, orgID, eventID string, asJSON bool) error {
	tl, err := store.Timeline(c.ctx, orgID, eventID)
	if errors.Is(err, logstore.ErrNotFound) {
		return fmt.Errorf("the delivery log has no event %s (it keeps LOG_RETENTION, 14 days by default)", eventID)
	}
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(c.out, tl)
	}
	printTimeline(c.out, tl)
	return nil
}

// printTimeline writes an event's rounds and attempts as a table.
func printTimeline(out io.Writer, tl *logstore.Timeline) {
	for i, r := range tl.Rounds {
		if i > 0 {
			fmt.Fprintln(out)
		}
		label := "original delivery"
		if r.Replay > 0 {
			label = "replay " + strconv.Itoa(r.Replay)
		}
		fmt.Fprintf(out, "Event %s (%s, %s) to %s: %s, %s after %d attempt(s)\n", r.EventID, r.OrgID, r.EventType, r.Host,
			label, r.State, r.Attempts)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ATTEMPT\tSTARTED\tSTATUS\tDURATION\tDECISION\tNEXT\tERROR / RESPONSE")
		for _, a := range r.AttemptList {
			next := "-"
			if a.NextAttemptAt != nil {
				next = a.NextAttemptAt.UTC().Format(time.RFC3339)
			}
			detail := a.Error
			if detail == "" {
				detail = a.ResponseExcerpt
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%.1fms\t%s\t%s\t%s\n", a.Attempt, a.StartedAt.UTC().Format(time.RFC3339Nano),
				statusText(a.StatusCode), a.DurationMS, a.Decision, next, orDash(oneLine(detail, 80)))
		}
		_ = tw.Flush()
	}
}

// printRounds writes rounds as a table, with a header when header is set.
func printRounds(out io.Writer, rounds []logstore.Delivery, header bool) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if header {
		fmt.Fprintln(tw, "QUEUED\tEVENT\tORG\tTYPE\tHOST\tSTATE\tATTEMPTS\tSTATUS\tREPLAY\tERROR")
	}
	for _, d := range rounds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\n", d.QueuedAt.UTC().Format(time.RFC3339), d.EventID, d.OrgID,
			d.EventType, d.Host, d.State, d.Attempts, statusText(d.StatusCode), d.Replay, orDash(oneLine(d.Error, 60)))
	}
	_ = tw.Flush()
}

func statusText(code int) string {
	if code == 0 {
		return "-"
	}
	return strconv.Itoa(code)
}

// follow prints the rounds queued since the start of the command (or
// --since), then every second the rounds that are new or changed (state
// or attempts), oldest first, until the context ends.
func (c *cli) follow(store logstore.Store, q logstore.Query, asJSON bool) error {
	if q.From.IsZero() {
		q.From = c.now().Add(-time.Minute)
	}
	q.Cursor = ""
	type key struct {
		id     string
		replay int
	}
	seen := map[key]string{}
	header := !asJSON
	for {
		page, err := store.Search(c.ctx, q)
		if err != nil {
			if c.ctx.Err() != nil {
				return nil
			}
			return err
		}
		var changed []logstore.Delivery
		for _, d := range page.Deliveries {
			k, v := key{d.EventID, d.Replay}, d.State+"/"+strconv.Itoa(d.Attempts)
			if seen[k] != v {
				seen[k] = v
				changed = append(changed, d)
			}
		}
		slices.Reverse(changed) // oldest first
		if asJSON {
			for _, d := range changed {
				if err := printJSON(c.out, d); err != nil {
					return err
				}
			}
		} else if len(changed) > 0 {
			printRounds(c.out, changed, header)
			header = false
		}
		select {
		case <-c.ctx.Done():
			return nil
		case <-time.After(followEvery):
		}
	}
}
