package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// summaryKeys are the keys of the BENCH line, in order, with the number
// of decimals each is printed with.
var summaryKeys = []struct {
	name     string
	decimals int
}{
	{"drain_per_s", 0}, {"baseline_http_per_s", 0}, {"baseline_js_per_s", 0}, {"baseline_bare_per_s", 0},
	{"ratio_bare", 2}, {"ratio_http", 2}, {"drain_fsync_per_s", 0},
	{"p50_ms_1k", 1}, {"p99_ms_1k", 1}, {"p99_ms_5k", 1}, {"rss_mb", 0},
	{"isolation_ratio", 3}, {"isolation_p99_ms", 1}, {"stalls", 0},
	{"history_broker_b_per_event", 1}, {"history_old_b_per_event", 1},
	{"log_lag_p99_ms_sqlite", 1}, {"log_lag_p99_ms_pg", 1}, {"log_timeline_ms", 2}, {"log_page_ms", 2},
	{"fair_b_p99_ms_alone", 1}, {"fair_b_p99_ms_alone_cpu_busy", 1}, {"fair_b_p99_ms_noisy_same_partition", 1}, {"fair_b_p99_ms_noisy_other_partition", 1}, {"fair_b_p99_ms_noisy_same_lane", 1}, {"fair_a_share", 3},
	{"scale_drain_per_s_p1", 0}, {"scale_drain_per_s_p3", 0}, {"scale_drain_ratio", 2}, {"scale_busiest_cpu_per_event_ratio", 3},
	{"scale_drain_per_s_p1_r1", 0}, {"scale_drain_per_s_p3_r1", 0}, {"scale_drain_ratio_r1", 2}, {"scale_busiest_cpu_per_event_ratio_r1", 3},
}

// report collects the summary values and prints the per-phase details as
// they come.
type report struct {
	out io.Writer
	val map[string]float64
}

func newReport(out io.Writer) *report { return &report{out: out, val: map[string]float64{}} }

// set records a summary value.
func (r *report) set(key string, v float64) { r.val[key] = v }

// printf prints a detail line.
func (r *report) printf(format string, args ...any) { fmt.Fprintf(r.out, format+"\n", args...) }

// run prints the detail line of a timed client run.
func (r *report) run(label string, t timed, res childResult) {
	r.printf("  %-28s %7d events in %7.2f s = %8.0f/s | CPU ms/event: client %.3f, broker+sink %.3f | client peak RSS %s MiB",
		label, t.N, t.Elapsed.Seconds(), t.perSec(), cpuPerEvent(t.ChildCPU, t.N), cpuPerEvent(t.ParentCPU, t.N), mb(t.ChildRSS))
	r.stalls(t.Stalls)
	r.leaks(label, res)
}

// stalls prints each stall of a run.
func (r *report) stalls(stalls []stall) {
	for _, s := range stalls {
		rec := "never recovered"
		if s.Recovered > 0 {
			rec = fmt.Sprintf("recovered after %.1f s without progress", s.Recovered.Seconds())
		}
		r.printf("    STALL at %d events, %.1f s into the run, %s; consumer: %s; goroutines: %s",
			s.At, s.Elapsed.Seconds(), rec, s.Consumer, s.Dump)
	}
}

// leaks flags goroutines a child still had after its run was shut down.
func (r *report) leaks(label string, res childResult) {
	if res.GoroutinesAfter > res.GoroutinesBefore {
		r.printf("  LEAK? %s: %d goroutines after shutdown, %d before start (dump: %s)",
			label, res.GoroutinesAfter, res.GoroutinesBefore, res.LeakDump)
	}
}

// summary returns the BENCH line; a value not measured prints as "na".
func (r *report) summary() string {
	var b strings.Builder
	b.WriteString("BENCH")
	for _, k := range summaryKeys {
		v, ok := r.val[k.name]
		s := "na"
		if ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			s = strconv.FormatFloat(v, 'f', k.decimals, 64)
		}
		b.WriteString(" " + k.name + "=" + s)
	}
	return b.String()
}

// ratio returns a/b, NaN when either is missing.
func (r *report) ratio(a, b string) float64 {
	x, okA := r.val[a]
	y, okB := r.val[b]
	if !okA || !okB || y == 0 {
		return math.NaN()
	}
	return x / y
}

// machine describes this machine and its load.
func machine() string {
	return fmt.Sprintf("machine: nproc=%d cpu=%q go=%s %s/%s load=%s", runtime.NumCPU(), cpuModel(),
		runtime.Version(), runtime.GOOS, runtime.GOARCH, loadAvg())
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// loadAvg returns the 1, 5 and 15 minute load averages.
func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ",")
}

// ms formats a duration in milliseconds.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
