package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/undelivered"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// defaultListLimit bounds list output unless --limit says otherwise.
const defaultListLimit = 100

// list prints the undelivered events a filter selects.
func (c *cli) list(args []string) error {
	fs := newFlags("undelivered list")
	var ff filterFlags
	ff.register(fs)
	limit := fs.Int("limit", defaultListLimit, "most events to print (0: all)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return usagef("undelivered list: unexpected argument %q", rest[0])
	}
	if *limit < 0 {
		return usagef("--limit must be >= 0")
	}
	f, s, err := c.openFiltered(&ff)
	if err != nil {
		return err
	}
	defer s.close()
	entries, err := undelivered.List(c.ctx, s.js, s.streams, f, *limit)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		entries, err = nil, nil // nothing was dead-lettered on this server yet
	}
	if err != nil {
		return explain(err)
	}
	if *asJSON {
		views := make([]entryView, len(entries))
		for i := range entries {
			views[i] = view(entries[i], false)
		}
		return printJSON(c.out, views)
	}
	if len(entries) == 0 {
		fmt.Fprintln(c.out, "No undelivered events match.")
		return nil
	}
	printEntries(c.out, entries)
	if *limit > 0 && len(entries) == *limit {
		fmt.Fprintf(c.errOut, "(showing the first %d; use --limit to see more)\n", *limit)
	}
	return nil
}

// show prints one undelivered event: its request and failure record.
func (c *cli) show(args []string) error {
	fs := newFlags("undelivered show")
	asJSON := fs.Bool("json", false, "print one JSON object")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("undelivered show needs exactly one event id")
	}
	if !envelope.ValidOrgID(rest[0]) {
		return usagef("%q is not an event id", rest[0])
	}
	s, err := c.connect()
	if err != nil {
		return err
	}
	defer s.close()
	e, err := undelivered.Show(c.ctx, s.js, s.streams, rest[0])
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		err = undelivered.ErrNotFound // nothing was dead-lettered on this server yet
	}
	if errors.Is(err, undelivered.ErrNotFound) {
		return fmt.Errorf("event %s is not in the undelivered stream (try: webhooksctl status --event-id %s): %w", rest[0], rest[0], undelivered.ErrNotFound)
	}
	if err != nil {
		return explain(err)
	}
	v := view(e, true)
	if *asJSON {
		return printJSON(c.out, v)
	}
	fmt.Fprintf(c.out, "Event:         %s\nOrganization:  %s\nSource:        %s\nDead-lettered: %s (sequence %d)\nReplayed:      %v\n\nRequest:\n",
		e.EventID(), e.OrgID(), e.Source(), e.StoredAt.Format(time.RFC3339), e.Seq, e.Replayed)
	if err := printJSON(c.out, v.Request); err != nil {
		return err
	}
	fmt.Fprintln(c.out, "\nFailure:")
	return printJSON(c.out, e.Failure)
}

// entryView is the JSON form of an undelivered entry: the request as JSON
// (list leaves it out: URLs may carry tokens; show includes it).
type entryView struct {
	Seq      uint64            `json:"seq"`
	EventID  string            `json:"event_id"`
	OrgID    string            `json:"org_id"`
	Source   string            `json:"source"`
	StoredAt time.Time         `json:"stored_at"`
	Replayed bool              `json:"replayed"`
	Failure  *envelope.Outcome `json:"failure"`
	Request  any               `json:"request,omitempty"`
}

func view(e undelivered.Entry, withRequest bool) entryView {
	v := entryView{Seq: e.Seq, EventID: e.EventID(), OrgID: e.OrgID(), Source: e.Source(), StoredAt: e.StoredAt,
		Replayed: e.Replayed, Failure: e.Failure}
	if withRequest {
		if json.Valid(e.Request) {
			v.Request = json.RawMessage(e.Request)
		} else {
			v.Request = string(e.Request)
		}
	}
	return v
}

// printEntries writes the table of list, replay --dry-run and purge.
func printEntries(w io.Writer, entries []undelivered.Entry) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEAD-LETTERED\tEVENT ID\tORG\tSOURCE\tTYPE\tHOST\tATTEMPTS\tLAST STATUS\tREASON")
	for _, e := range entries {
		typ, host, attempts, code, reason := "-", "-", "-", "-", "-"
		if f := e.Failure; f != nil {
			typ, host, attempts, reason = orDash(f.EventType), orDash(f.Host), strconv.Itoa(f.Attempts), orDash(oneLine(f.Error, 60))
			if f.StatusCode != 0 {
				code = strconv.Itoa(f.StatusCode)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.StoredAt.Format(time.RFC3339), e.EventID(),
			e.OrgID(), e.Source(), typ, host, attempts, code, reason)
	}
	_ = tw.Flush()
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine flattens s and cuts it to at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
