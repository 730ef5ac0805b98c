package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/undelivered"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// newFlags returns a flag set that reports errors to the caller only.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses args, allowing flags after positional arguments, and returns
// the positional ones. Errors are usage errors.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// stringList is a repeatable flag; each value may also be a comma-separated list.
type stringList []string

// String implements flag.Value.
func (l *stringList) String() string { return strings.Join(*l, ",") }

// Set implements flag.Value: it appends each comma-separated value.
func (l *stringList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// filterFlags are the selection flags shared by list, replay and purge.
type filterFlags struct {
	org, source, eventType, host, since, until string
	ids                                        stringList
}

func (f *filterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.org, "org", "", "organization id")
	fs.StringVar(&f.source, "source", "", "job or workflow")
	fs.StringVar(&f.eventType, "type", "", "event type, such as find_email or outgoing_webhook.completed")
	fs.StringVar(&f.host, "host", "", "destination host")
	fs.StringVar(&f.since, "since", "", "dead-lettered at or after: RFC 3339 or a duration ago (2h)")
	fs.StringVar(&f.until, "until", "", "dead-lettered at or before: RFC 3339 or a duration ago")
	fs.Var(&f.ids, "id", "event id (repeatable)")
}

// filter checks the flags and builds the filter; errors are usage errors.
func (f *filterFlags) filter(now time.Time) (undelivered.Filter, error) {
	out := undelivered.Filter{OrgID: f.org, Source: f.source, EventType: f.eventType, Host: f.host, EventIDs: f.ids}
	switch {
	case f.org != "" && !envelope.ValidOrgID(f.org):
		return out, usagef("--org %q: must match [A-Za-z0-9_-]{1,64}", f.org)
	case f.source != "" && f.source != string(envelope.SourceJob) && f.source != string(envelope.SourceWorkflow):
		return out, usagef("--source %q: must be job or workflow", f.source)
	}
	for _, id := range f.ids {
		if !envelope.ValidOrgID(id) {
			return out, usagef("--id %q: not an event id", id)
		}
	}
	var err error
	if out.Since, err = parseWhen(f.since, now); err != nil {
		return out, usagef("--since: %v", err)
	}
	if out.Until, err = parseWhen(f.until, now); err != nil {
		return out, usagef("--until: %v", err)
	}
	if !out.Since.IsZero() && !out.Until.IsZero() && out.Until.Before(out.Since) {
		return out, usagef("--until is before --since")
	}
	return out, nil
}

// empty reports whether no selection flag was given.
func (f *filterFlags) empty() bool {
	return f.org == "" && f.source == "" && f.eventType == "" && f.host == "" && f.since == "" && f.until == "" && len(f.ids) == 0
}

// parseWhen reads an RFC 3339 time, or a positive Go duration meaning that
// long before now; "" is the zero time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-05-01T10:00:00Z) nor a duration ago (2h, 30m)", s)
	}
	return now.Add(-d), nil
}

// parseRate reads "N", "N/s", "N/m" or "N/h" as events per second; 0
// means unlimited.
func parseRate(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	num, unit, _ := strings.Cut(s, "/")
	per := map[string]float64{"": 1, "s": 1, "m": 60, "min": 60, "h": 3600}[unit]
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || per == 0 || n < 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, fmt.Errorf("%q is not a rate such as 10, 10/s or 600/m", s)
	}
	return n / per, nil
}
