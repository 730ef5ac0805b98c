package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/deliver"
)

// phaseNames returns the names of the phases in the order they run.
func phaseNames() []string {
	names := make([]string, len(phases))
	for i, p := range phases {
		names[i] = p.name
	}
	return names
}

// options are the command's flags.
type options struct {
	quick  bool
	phases map[string]bool

	events      int // backlog of the drain and of each baseline
	rounds      int // rounds of baseline C and of the full drain; the best counts
	fsyncEvents int // backlog of the drain with fsync on every write
	concurrency int // deliverer attempts in flight
	prefetch    int // deliverer client-side buffer
	perHost     int // deliverer per-host limit; also the baselines' workers
	maxWaiting  int // deliverer MaxWaiting; 0 is its default

	warmup       time.Duration // unmeasured start of each offered load
	loadDuration time.Duration // measured part of each offered load

	isolationDuration time.Duration
	isolationRate     float64
	isolationFault    float64
	isolationControl  bool

	stallRuns          int
	stallEvents        int
	stallWorkers       int
	stallAfter         time.Duration
	stallGiveUp        time.Duration
	stallMaxAckPending int
	stallPrefetch      int
	stallLoop          string

	historyEvents int           // events retained in the history phase
	logRate       float64       // records/s offered to the log writer
	logDuration   time.Duration // measured part of that load
	logEvents     int           // events stored before the query timings
	pgURL         string        // PostgreSQL server of the log phase; "" skips it

	fairEvents int           // org A's backlog in the fairness phase
	fairRate   float64       // events/s orgs B and C each publish in it
	fairWindow time.Duration // B's publishing alone; the least of it with A's backlog

	scaleEvents int // backlog of each run of the scale phase

	profileDir string
	keep       bool
}

// quickPreset is what -quick changes, unless the flag is given explicitly:
// a smoke run of a few seconds.
var quickPreset = map[string]string{
	"events": "400", "rounds": "1", "fsync-events": "100", "warmup": "50ms", "load-duration": "150ms",
	"isolation-duration": "300ms", "isolation-control": "false",
	"stall-runs": "1", "stall-events": "400", "stall-give-up": "2s",
	"history-events": "2000", "log-rate": "500", "log-duration": "300ms", "log-events": "3000",
	"fair-events": "20000", "fair-window": "2s", "scale-events": "300",
}

// parseFlags parses args; -h prints the flags to out.
func parseFlags(args []string, out io.Writer) (options, error) {
	var o options
	var phases string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.BoolVar(&o.quick, "quick", false, "smoke run of a few seconds: tiny counts, short loads, one stall run")
	fs.StringVar(&phases, "phases", "all", "comma-separated phases to run: all or "+strings.Join(phaseNames(), ","))
	fs.IntVar(&o.events, "events", 100_000, "events in the backlog drain and in each baseline")
	fs.IntVar(&o.rounds, "rounds", 2, "rounds of baseline C and of the full drain, run one after the other; the best of each counts (a shared machine only ever slows a run down)")
	fs.IntVar(&o.fsyncEvents, "fsync-events", 10_000, "events in the drain with fsync on every write")
	fs.IntVar(&o.concurrency, "concurrency", deliver.DefaultConcurrency, "deliverer concurrency (attempts in flight)")
	fs.IntVar(&o.prefetch, "prefetch", deliver.DefaultPrefetch, "deliverer prefetch (client-side buffer)")
	fs.IntVar(&o.perHost, "per-host", deliver.DefaultPerHostConcurrency,
		"deliverer per-host concurrency; every event goes to one sink host, so the baselines use this many workers")
	fs.IntVar(&o.maxWaiting, "max-waiting", 0, "deliverer MaxWaiting (messages waiting for a busy host without a worker slot; 0: its default)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up at the start of each offered load")
	fs.DurationVar(&o.loadDuration, "load-duration", 10*time.Second, "measured duration of each offered load (1,000/s and 5,000/s)")
	fs.DurationVar(&o.isolationDuration, "isolation-duration", 15*time.Second, "measured duration of the isolation run")
	fs.Float64Var(&o.isolationRate, "isolation-rate", 1000, "events/s offered in the isolation run")
	fs.Float64Var(&o.isolationFault, "isolation-fault", 0.10, "share of isolation events sent to the never-answering destination")
	fs.BoolVar(&o.isolationControl, "isolation-control", true, "also run the isolation load with no faulty destination, for comparison")
	fs.IntVar(&o.stallRuns, "stall-runs", 10, "high-concurrency drains run to count stalls")
	fs.IntVar(&o.stallEvents, "stall-events", 20_000, "events in each stall run")
	fs.IntVar(&o.stallWorkers, "stall-workers", 256, "concurrency (and per-host limit) of the stall runs")
	fs.DurationVar(&o.stallAfter, "stall-after", 5*time.Second, "no progress for this long is a stall")
	fs.DurationVar(&o.stallGiveUp, "stall-give-up", 10*time.Second, "after a stall, how long to wait for progress before abandoning the run")
	fs.IntVar(&o.stallMaxAckPending, "stall-max-ack-pending", 0, "consumer MaxAckPending in the stall runs (0: the streams default)")
	fs.IntVar(&o.stallPrefetch, "stall-prefetch", 0, "pull batch (prefetch) in the stall runs (0: the deliverer default)")
	fs.StringVar(&o.stallLoop, "stall-loop", modeDeliverer, "client of the stall runs: deliverer or bare (baseline C's loop)")
	fs.IntVar(&o.historyEvents, "history-events", 1_000_000, "events retained on each history stream (broker heap per event)")
	fs.Float64Var(&o.logRate, "log-rate", 5000, "attempt records/s offered to the log writer in the lag measurement")
	fs.DurationVar(&o.logDuration, "log-duration", 10*time.Second, "measured duration of the log writer's load")
	fs.IntVar(&o.logEvents, "log-events", 1_000_000, "events stored in each delivery log before timing timelines and pages")
	fs.StringVar(&o.pgURL, "pg-url", os.Getenv("WEBHOOKS_TEST_POSTGRES_URL"), "PostgreSQL server (a database the user may create databases from) for the delivery log phase; empty: SQLite only")
	fs.IntVar(&o.fairEvents, "fair-events", fairEventsDefault, "org A's events queued before the deliverer starts in the fairness phase")
	fs.Float64Var(&o.fairRate, "fair-rate", 50, "events/s orgs B and C each publish in the fairness phase")
	fs.DurationVar(&o.fairWindow, "fair-window", 12*time.Second, "fairness phase: how long B and C publish with no backlog, and the least they publish while A's backlog drains (they go on until it is drained)")
	fs.IntVar(&o.scaleEvents, "scale-events", scaleEventsDefault, "job events in each run (one partition, then three) of the scale phase on a 3-node cluster with fsync on every write")
	fs.StringVar(&o.profileDir, "profile", "", "write CPU profiles of the drains (deliverer, baseline C, and this process: broker and sink) and of the deliverer and this process under each offered load, and the deliverer's heap and goroutines halfway through the drain, to this directory")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directories (JetStream stores, attempt logs)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, usageError{err}
	}
	if fs.NArg() > 0 {
		return o, usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	if o.quick {
		if err := applyPreset(fs, quickPreset); err != nil {
			return o, err
		}
	}
	o.phases = map[string]bool{}
	for _, p := range strings.Split(phases, ",") {
		switch p = strings.TrimSpace(p); {
		case p == "all":
			for _, n := range phaseNames() {
				o.phases[n] = true
			}
		case slices.Contains(phaseNames(), p):
			o.phases[p] = true
		default:
			return o, usageError{fmt.Errorf("-phases: unknown phase %q (want all or %s)", p, strings.Join(phaseNames(), ","))}
		}
	}
	return o, o.validate()
}

// applyPreset sets every preset flag the command line did not set.
func applyPreset(fs *flag.FlagSet, preset map[string]string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, v := range preset {
		if !set[name] {
			if err := fs.Set(name, v); err != nil {
				return usageError{fmt.Errorf("-quick: %s: %w", name, err)}
			}
		}
	}
	return nil
}

func (o options) validate() error {
	switch {
	case o.events < 1 || o.fsyncEvents < 1 || o.stallEvents < 1 || o.rounds < 1:
		return usageError{errors.New("-events, -rounds, -fsync-events and -stall-events must be >= 1")}
	case o.concurrency < 1 || o.prefetch < 1 || o.perHost < 1 || o.stallWorkers < 1 || o.maxWaiting < 0:
		return usageError{errors.New("-concurrency, -prefetch, -per-host and -stall-workers must be >= 1, -max-waiting >= 0")}
	case o.loadDuration <= 0 || o.isolationDuration <= 0 || o.warmup < 0:
		return usageError{errors.New("-load-duration and -isolation-duration must be > 0, -warmup >= 0")}
	case o.isolationRate <= 0 || o.isolationFault < 0 || o.isolationFault >= 1:
		return usageError{errors.New("-isolation-rate must be > 0 and -isolation-fault in [0, 1)")}
	case o.stallRuns < 0 || o.stallAfter <= 0 || o.stallGiveUp < 0:
		return usageError{errors.New("-stall-runs must be >= 0, -stall-after > 0, -stall-give-up >= 0")}
	case o.historyEvents < 1 || o.logEvents < 1 || o.logRate <= 0 || o.logDuration <= 0:
		return usageError{errors.New("-history-events and -log-events must be >= 1, -log-rate and -log-duration > 0")}
	case o.fairEvents < 1 || o.fairRate <= 0 || o.fairWindow <= 0:
		return usageError{errors.New("-fair-events must be >= 1, -fair-rate and -fair-window > 0")}
	case o.scaleEvents < 1:
		return usageError{errors.New("-scale-events must be >= 1")}
	case o.stallLoop != modeDeliverer && o.stallLoop != modeBare:
		return usageError{fmt.Errorf("-stall-loop = %q, want %s or %s", o.stallLoop, modeDeliverer, modeBare)}
	}
	return nil
}

// workers is the HTTP concurrency the deliverer can use against the one
// sink host, which the baselines use too.
func (o options) workers() int { return min(o.concurrency, o.perHost) }
