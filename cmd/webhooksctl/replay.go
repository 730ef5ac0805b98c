package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/undelivered"
)

// replay re-publishes the selected undelivered events.
func (c *cli) replay(args []string) error {
	fs := newFlags("undelivered replay")
	var ff filterFlags
	ff.register(fs)
	dryRun := fs.Bool("dry-run", false, "count and show what would be replayed; change nothing")
	rateFlag := fs.String("rate", "", "most replays per second: N, N/s, N/m (default unlimited)")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return usagef("undelivered replay: unexpected argument %q", rest[0])
	}
	perSecond, err := parseRate(*rateFlag)
	if err != nil {
		return usagef("--rate: %v", err)
	}
	f, s, err := c.openFiltered(&ff)
	if err != nil {
		return err
	}
	defer s.close()

	opts := undelivered.ReplayOptions{DryRun: *dryRun, RatePerSecond: perSecond}
	if store, err := c.openLog(); err == nil {
		defer store.Close()
		opts.History = logstore.History(store)
	} else if !errors.Is(err, errNoLog) {
		return err
	}
	if !*yes && !*dryRun {
		opts.Confirm = func(n int, sample []undelivered.Entry) bool {
			c.describe(n, sample, "replay")
			return c.confirm(fmt.Sprintf("Replay %d events?", n))
		}
	}
	progress := c.newProgress("replaying")
	opts.Progress = progress.update
	sum, err := undelivered.Replay(c.ctx, s.js, s.streams, f, opts)
	progress.finish()
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		sum, err = undelivered.ReplaySummary{}, nil // nothing was dead-lettered on this server yet
	}
	if errors.Is(err, undelivered.ErrNotConfirmed) {
		return errors.New("aborted: nothing was replayed")
	}
	if *dryRun && err == nil {
		fmt.Fprintf(c.out, "Dry run: %d undelivered events would be replayed.\n", sum.Matched)
		if len(sum.Sample) > 0 {
			fmt.Fprintf(c.out, "The first %d:\n", len(sum.Sample))
			printEntries(c.out, sum.Sample)
		}
		return nil
	}
	if sum.Matched == 0 && err == nil {
		fmt.Fprintln(c.out, "No undelivered events match; nothing to replay.")
		return nil
	}
	c.printSummary(sum)
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return errors.New("interrupted: run the same command again to replay the rest (no event is replayed twice)")
	case err != nil:
		return explain(err)
	case sum.Failed > 0:
		return fmt.Errorf("%d of %d events could not be replayed", sum.Failed, sum.Matched)
	}
	return nil
}

// printSummary writes what a replay did.
func (c *cli) printSummary(sum undelivered.ReplaySummary) {
	fmt.Fprintf(c.out, "Matched %d, replayed %d, skipped %d (already replayed), failed %d, in %s.\n",
		sum.Matched, sum.Replayed, sum.Skipped, sum.Failed, sum.Duration.Round(time.Millisecond))
	for _, e := range sum.Errors {
		fmt.Fprintf(c.out, "  failed: %v\n", e)
	}
}

// purge deletes the selected undelivered events for good.
func (c *cli) purge(args []string) error {
	fs := newFlags("undelivered purge")
	var ff filterFlags
	ff.register(fs)
	all := fs.Bool("all", false, "select every undelivered event (required when no filter is given)")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return usagef("undelivered purge: unexpected argument %q", rest[0])
	}
	if ff.empty() && !*all {
		return usagef("undelivered purge needs a filter, or --all to delete every undelivered event")
	}
	f, s, err := c.openFiltered(&ff)
	if err != nil {
		return err
	}
	defer s.close()
	n, err := undelivered.Purge(c.ctx, s.js, s.streams, f, func(n int, sample []undelivered.Entry) bool {
		if *yes {
			return true
		}
		c.describe(n, sample, "delete for good")
		return c.confirm(fmt.Sprintf("Delete %d undelivered events? They cannot be replayed afterwards.", n))
	})
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		n, err = 0, nil // nothing was dead-lettered on this server yet
	}
	switch {
	case errors.Is(err, undelivered.ErrNotConfirmed):
		return errors.New("aborted: nothing was deleted")
	case err != nil:
		if n > 0 {
			fmt.Fprintf(c.out, "Deleted %d undelivered events before the error.\n", n)
		}
		return explain(err)
	}
	fmt.Fprintf(c.out, "Deleted %d undelivered events.\n", n)
	return nil
}

// describe shows, on stderr, what a confirmation is about.
func (c *cli) describe(n int, sample []undelivered.Entry, verb string) {
	fmt.Fprintf(c.errOut, "%d undelivered events match; you are about to %s them. The first %d:\n", n, verb, len(sample))
	printEntries(c.errOut, sample)
}
