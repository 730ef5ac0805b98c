package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// TestMain lets the test binary serve as the bench's child process: the
// parent re-executes os.Executable(), which under go test is this binary.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, nil, os.Stdout)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestQuickRunPrintsTheSummaryLine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	// -quick's fairness run (20,000 events, 2 s windows) takes 35 s under -race.
	if err := run(ctx, []string{"-quick", "-fair-events", "2000", "-fair-window", "500ms"}, &out); err != nil {
		t.Fatalf("run -quick: %v\noutput:\n%s", err, out.String())
	}
	var summaries []string
	for line := range strings.SplitSeq(out.String(), "\n") {
		if strings.HasPrefix(line, "BENCH ") {
			summaries = append(summaries, line)
		}
	}
	if len(summaries) != 1 {
		t.Fatalf("got %d BENCH lines, want 1\noutput:\n%s", len(summaries), out.String())
	}
	got := map[string]string{}
	for _, kv := range strings.Fields(summaries[0])[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Errorf("summary field %q is not key=value", kv)
		}
		got[k] = v
	}
	if len(got) != len(summaryKeys) {
		t.Errorf("summary has %d keys, want %d: %s", len(got), len(summaryKeys), summaries[0])
	}
	for _, k := range summaryKeys {
		v, ok := got[k.name]
		if !ok {
			t.Errorf("summary lacks %s: %s", k.name, summaries[0])
			continue
		}
		if k.name == "log_lag_p99_ms_pg" && v == "na" && os.Getenv("WEBHOOKS_TEST_POSTGRES_URL") == "" {
			continue // PostgreSQL is measured only when a server is named
		}
		if f, err := strconv.ParseFloat(v, 64); err != nil || f < 0 {
			t.Errorf("%s = %q, want a number >= 0", k.name, v)
		}
	}
	for _, want := range []string{"machine: nproc=", "A: HTTP only", "B: pull consume + ack", "C: bare loop drain",
		"D: full deliverer drain", "fsync every write", "1000/s offered", "5000/s offered", "never-answering host", "run  1:",
		"bytes/event", "log writer lag at", "timeline of one event", "100-row page",
		"A alone: backlog drain", "B alone (no A backlog", "B alone with every core busy", "A with B, C (same): drain", "A with B, C (other): drain",
		"A with B, C (lane): drain", "B and C in A's partition (other lanes)", "B and C in the other partitions", "B and C in A's lane",
		"3 partitions of 8 lanes; org A",
		"R3 P=1: deliverer drain", "R3 P=3: deliverer drain", "R3 P=3: leaders (", "R3 busiest server CPU per event: P=1",
		"R1 P=3: deliverer drain", "R1 busiest server CPU per event: P=1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q\noutput:\n%s", want, out.String())
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("output:\n%s", out.String())
	}
}

func TestBadFlagsAreUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"unknown flag", []string{"-nope"}},
		{"unknown phase", []string{"-phases", "drain,warp"}},
		{"zero events", []string{"-events", "0"}},
		{"zero rounds", []string{"-rounds", "0"}},
		{"fault share of one", []string{"-isolation-fault", "1"}},
		{"unknown stall loop", []string{"-stall-loop", "push"}},
		{"zero fairness rate", []string{"-fair-rate", "0"}},
		{"zero scale events", []string{"-scale-events", "0"}},
		{"stray argument", []string{"now"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, &bytes.Buffer{})
			var usage usageError
			if !errors.As(err, &usage) {
				t.Errorf("run(%q) = %v, want a usageError", tc.args, err)
			}
		})
	}
}

func TestSummaryPrintsNaForUnmeasuredValues(t *testing.T) {
	r := newReport(&bytes.Buffer{})
	r.set("drain_per_s", 1234.4)
	r.set("baseline_bare_per_s", 2000)
	r.set("ratio_bare", r.ratio("drain_per_s", "baseline_bare_per_s"))
	r.set("ratio_http", r.ratio("drain_per_s", "baseline_http_per_s"))
	got := r.summary()
	for _, want := range []string{"BENCH drain_per_s=1234 ", " ratio_bare=0.62 ", " ratio_http=na ", " stalls=na"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary %q lacks %q", got, want)
		}
	}
}

func TestDistributionUsesNearestRank(t *testing.T) {
	lat := make([]time.Duration, 200)
	for i := range lat {
		lat[i] = time.Duration(200-i) * time.Millisecond // 200 ms down to 1 ms
	}
	d := distribution(lat)
	if got, want := d.p50, 100*time.Millisecond; got != want {
		t.Errorf("p50 = %v, want %v", got, want)
	}
	if got, want := d.p99, 198*time.Millisecond; got != want {
		t.Errorf("p99 = %v, want %v", got, want)
	}
	if got, want := d.max, 200*time.Millisecond; got != want {
		t.Errorf("max = %v, want %v", got, want)
	}
}

func TestSpreadMovesPutsEachLeaderOnItsOwnServer(t *testing.T) {
	servers := []string{"n1", "n2", "n3"}
	for _, tc := range []struct {
		name    string
		leaders []string
		want    map[int]string
	}{
		{"already spread", []string{"n2", "n3", "n1"}, map[int]string{}},
		{"two share a server", []string{"n1", "n1", "n3"}, map[int]string{1: "n2"}},
		{"all on one server", []string{"n2", "n2", "n2"}, map[int]string{1: "n1", 2: "n3"}},
		{"more streams than servers", []string{"n1", "n1", "n1", "n1"}, map[int]string{1: "n2", 2: "n3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := spreadMoves(tc.leaders, servers)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("spreadMoves(%v) = %v, want %v", tc.leaders, got, tc.want)
			}
		})
	}
}

func TestScaleOrgsShareThePartitionsEvenly(t *testing.T) {
	orgs := scaleOrgIDs()
	sc := streams.Config{Partitions: scalePartitions}.WithDefaults()
	counts := make([]int, scalePartitions)
	seen := map[string]bool{}
	for _, id := range orgs {
		if seen[id] {
			t.Errorf("organization %s twice", id)
		}
		seen[id] = true
		counts[sc.PartitionOf(id)]++
	}
	for p, got := range counts {
		if got != scaleOrgsPerPartition {
			t.Errorf("partition %d has %d organizations, want %d", p, got, scaleOrgsPerPartition)
		}
	}
}
