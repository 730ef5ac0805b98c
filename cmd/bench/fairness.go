package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// The organizations of the fairness phase. A is the env's organization
// (benchOrg) and uses the env's sink; B and C each get a signing secret and
// a sink of their own, so that their events are counted and timed apart.
// Every sink listens on 127.0.0.1, which the deliverer's per-host limit
// counts as one host: one receiver shared by the three organizations.
const (
	fairOrgA       = benchOrg
	fairOrgBPrefix = "org_bench_b"
	fairOrgCPrefix = "org_bench_c"
)

// fairPartitions is the partition count of every fairness world.
const fairPartitions = 3

// fairEventsDefault is org A's backlog in the full run (-fair-events).
const fairEventsDefault = 200_000

// fairMinSamples is how many latency samples of B a p99 needs to mean
// something (its 5 slowest events); fewer are flagged in the details.
const fairMinSamples = 500

// errFairLoadDone is the cause with which the fairness phase stops B's and
// C's publishing once A's backlog is drained and the window is long enough.
var errFairLoadDone = errors.New("B and C load done")

// fairOrgs are B and C of one placement against A's partition and lane.
type fairOrgs struct {
	b, c  string
	where string // "same", "other" or "lane", for the details
	field string // the BENCH field of B's p99
	desc  string // the placement, for the details
	short string // the placement in a few words
}

// fairPlacements picks, by the hash the server's mapping uses, B and C in
// A's partition and each in a lane of its own (same), in the two other
// partitions (other), and both in A's partition and lane (lane: the case
// lanes do not cover).
func fairPlacements(sc streams.Config) (same, other, lane fairOrgs) {
	pa, la := sc.PartitionOf(fairOrgA), sc.LaneOf(fairOrgA)
	pick := func(prefix string, ok func(partition, lane int) bool) string {
		for i := 0; ; i++ {
			if id := fmt.Sprintf("%s%d", prefix, i); ok(sc.PartitionOf(id), sc.LaneOf(id)) {
				return id
			}
		}
	}
	sameB := pick(fairOrgBPrefix, func(p, l int) bool { return p == pa && l != la })
	sameC := pick(fairOrgCPrefix, func(p, l int) bool { return p == pa && l != la && l != sc.LaneOf(sameB) })
	same = fairOrgs{b: sameB, c: sameC, where: "same", field: "fair_b_p99_ms_noisy_same_partition", short: "A's partition (other lanes)",
		desc: fmt.Sprintf("same partition as A, other lanes: B %s (lane %d), C %s (lane %d)", sameB, sc.LaneOf(sameB), sameC, sc.LaneOf(sameC))}
	otherB := pick(fairOrgBPrefix, func(p, _ int) bool { return p == (pa+1)%fairPartitions })
	otherC := pick(fairOrgCPrefix, func(p, _ int) bool { return p == (pa+2)%fairPartitions })
	other = fairOrgs{b: otherB, c: otherC, where: "other", field: "fair_b_p99_ms_noisy_other_partition", short: "the other partitions",
		desc: fmt.Sprintf("other partitions: B %s (partition %d), C %s (partition %d)", otherB, sc.PartitionOf(otherB), otherC, sc.PartitionOf(otherC))}
	laneB := pick(fairOrgBPrefix, func(p, l int) bool { return p == pa && l == la })
	laneC := pick(fairOrgCPrefix, func(p, l int) bool { return p == pa && l == la })
	lane = fairOrgs{b: laneB, c: laneC, where: "lane", field: "fair_b_p99_ms_noisy_same_lane", short: "A's lane",
		desc: fmt.Sprintf("A's own lane: B %s, C %s", laneB, laneC)}
	return same, other, lane
}

// fairness measures whether one organization's backlog delays another's
// (issue 16): org A has o.fairEvents job events queued before the
// deliverer starts, and orgs B and C publish o.fairRate job events/s each
// (interleaved) while it drains; every receiver answers 204 at once. The
// deliver streams have fairPartitions partitions (the server maps each
// organization to its own). It runs the full deliverer in a child process,
// six times, each in a fresh world:
//
//   - A alone: A's backlog drained with no other traffic (drainOnce, as
//     the drain phase does);
//   - B alone: B and C publishing for o.fairWindow with no backlog;
//   - B alone with every core busy: the same while a hog child spins one
//     goroutine per core (fair_b_p99_ms_alone_cpu_busy: what CPU load that
//     is not A's does to B's p99 on this machine);
//   - noisy, same partition: A's backlog again, B and C (both in A's
//     partition) publishing from the deliverer's start until A's backlog is
//     drained, and for at least o.fairWindow;
//   - noisy, other partition: the same with B and C in the two other
//     partitions;
//   - noisy, A's lane: the same with B and C in A's partition and lane
//     (fair_b_p99_ms_noisy_same_lane: the case lanes do not cover).
//
// fair_b_p99_ms_* are B's p99 publish-to-receipt latency (every B event
// published in the run, from the first publish to the last; no warm-up).
// fair_a_share is the lower of A's events/s in the two noisy runs (from
// the deliverer's start until A's last event arrived, all of it with B and
// C publishing) divided by A's events/s alone.
func fairness(ctx context.Context, o options, r *report) error {
	sc := streams.Config{Partitions: fairPartitions}.WithDefaults()
	same, other, lane := fairPlacements(sc)
	r.printf("  %d partitions of %d lanes; org A (%s, partition %d, lane %d): %d job events queued before the deliverer starts; orgs B and C: %.0f events/s each; one sink per org, all on 127.0.0.1 (one host to the deliverer), answering 204",
		fairPartitions, streams.Lanes, fairOrgA, sc.PartitionOf(fairOrgA), sc.LaneOf(fairOrgA), o.fairEvents, o.fairRate)
	r.printf("  placements: %s; %s; %s", same.desc, other.desc, lane.desc)
	if o.quick {
		r.printf("  quick: A's backlog scaled down to %d events (full run: %d) and the window to %v", o.fairEvents, fairEventsDefault, o.fairWindow)
	}
	alone, err := drainOnce(ctx, o, r, envConfig{partitions: fairPartitions}, o.fairEvents, "A alone: backlog drain", o.profilePath("fair-alone"))
	if err != nil {
		return fmt.Errorf("A alone: %w", err)
	}
	quiet, err := fairQuiet(ctx, o, r, same, false)
	if err != nil {
		return fmt.Errorf("B alone: %w", err)
	}
	r.printf("  B alone (no A backlog; C publishing too) for %.2f s: B %s%s; C p99 %.1f ms (%d events)",
		quiet.window.Seconds(), quiet.b, fewSamples(quiet.b), ms(quiet.c.p99), quiet.c.n)
	r.set("fair_b_p99_ms_alone", ms(quiet.b.p99))
	busy, err := fairQuiet(ctx, o, r, same, true)
	if err != nil {
		return fmt.Errorf("B alone, every core busy: %w", err)
	}
	r.printf("  B alone with every core busy (a child process spinning %d goroutines; no A backlog) for %.2f s: B %s%s; C p99 %.1f ms (%d events)",
		runtime.NumCPU(), busy.window.Seconds(), busy.b, fewSamples(busy.b), ms(busy.c.p99), busy.c.n)
	r.set("fair_b_p99_ms_alone_cpu_busy", ms(busy.b.p99))
	share := 0.0
	for i, orgs := range []fairOrgs{same, other, lane} {
		noisy, load, err := fairNoisy(ctx, o, r, orgs)
		if err != nil {
			return fmt.Errorf("noisy, B and C in %s: %w", orgs.short, err)
		}
		r.printf("  B and C in %s, publishing for %.2f s while A's backlog drained (at least %v): B %s%s; C p99 %.1f ms (%d events)",
			orgs.short, load.window.Seconds(), o.fairWindow, load.b, fewSamples(load.b), ms(load.c.p99), load.c.n)
		s := noisy.perSec() / alone.perSec()
		r.printf("  A's backlog drained in %.2f s alone (%.0f/s), in %.2f s with B and C in %s (%.0f/s): share %.3f",
			alone.Elapsed.Seconds(), alone.perSec(), noisy.Elapsed.Seconds(), orgs.short, noisy.perSec(), s)
		r.set(orgs.field, ms(load.b.p99))
		if orgs.where == "lane" {
			continue // not a placement fair_a_share is defined on
		}
		if i == 0 || s < share {
			share = s
		}
	}
	r.set("fair_a_share", share)
	return nil
}

// fewSamples flags a distribution too small for its p99 to mean much.
func fewSamples(d dist) string {
	if d.n >= fairMinSamples {
		return ""
	}
	return fmt.Sprintf(" (fewer than %d samples: the p99 is close to the max)", fairMinSamples)
}

// fairEnv is a fairness world: an env (org A and its sink) with orgs B and
// C, each with a signing secret and a sink.
type fairEnv struct {
	*env
	orgs fairOrgs
	b, c *sink
}

func newFairEnv(ctx context.Context, o options, orgs fairOrgs) (_ *fairEnv, err error) {
	e, err := newEnv(ctx, o, envConfig{partitions: fairPartitions})
	if err != nil {
		return nil, err
	}
	f := &fairEnv{env: e, orgs: orgs}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	mgr := &secrets.Manager{KV: e.res.Secrets, Keyring: secrets.DevKeyring()}
	for _, org := range []struct {
		id   string
		sink **sink
	}{{orgs.b, &f.b}, {orgs.c, &f.c}} {
		secret, _, err := mgr.Create(ctx, org.id)
		if err != nil {
			return nil, fmt.Errorf("create the signing secret of %s: %w", org.id, err)
		}
		if *org.sink, err = newSink(secret); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// close tears the world down; it is safe on a partly built fairEnv.
func (f *fairEnv) close() {
	for _, s := range []*sink{f.b, f.c} {
		if s != nil {
			s.close()
		}
	}
	f.env.close()
}

// fairLoad is what one run of B's and C's publishing measured.
type fairLoad struct {
	start  time.Time     // the first publish
	window time.Duration // from the first publish to the last
	nb, nc int           // events B and C published
	b, c   dist          // their publish-to-receipt latency
}

// publishBC publishes rate job events/s for B and as many for C,
// alternating, until d passes or ctx ends; it returns the window and the
// counts (latencies are filled in by settle). The error is publishAtRate's,
// ctx.Err() when ctx ended it.
func (f *fairEnv) publishBC(ctx context.Context, rate float64, d time.Duration) (fairLoad, error) {
	l := fairLoad{start: time.Now()}
	_, err := f.publishAtRate(ctx, 2*rate, d, func(i int, now time.Time) (*nats.Msg, error) {
		if i%2 == 0 {
			l.nb++
			return f.orgJobMsg(f.orgs.b, f.b.url, stamp(now, i), now)
		}
		l.nc++
		return f.orgJobMsg(f.orgs.c, f.c.url, stamp(now, i), now)
	})
	l.window = time.Since(l.start)
	return l, err
}

// orgJobMsg builds the WEBHOOKS message of a job event of org for url.
func (f *fairEnv) orgJobMsg(org, url, taskID string, now time.Time) (*nats.Msg, error) {
	req, err := envelope.NewJobRequest(now, org, url, envelope.JobResult{
		TaskID: taskID, Status: envelope.StatusCompleted, TaskType: "find_email", Result: jobResult,
	})
	if err != nil {
		return nil, err
	}
	return f.requestMsg(req)
}

// settle waits up to settleTimeout for every event of l at B's and C's
// sinks, then reads their latencies. It fails when one is missing, a
// sampled signature did not verify or a publish failed, and reports
// duplicate deliveries.
func (f *fairEnv) settle(ctx context.Context, r *report, l *fairLoad) error {
	deadline := time.Now().Add(settleTimeout)
	for (f.b.received() < int64(l.nb) || f.c.received() < int64(l.nc)) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	l.b = distribution(latencies(f.b.snapshot(), l.start))
	l.c = distribution(latencies(f.c.snapshot(), l.start))
	var errs []error
	for _, org := range []struct {
		id   string
		s    *sink
		want int
	}{{f.orgs.b, f.b, l.nb}, {f.orgs.c, f.c, l.nc}} {
		if d := org.s.duplicates(); d > 0 {
			r.printf("  sink of %s: %d duplicate deliveries", org.id, d)
		}
		switch {
		case org.s.received() < int64(org.want):
			errs = append(errs, fmt.Errorf("%s: sink received %d of %d events within %v of the end", org.id, org.s.received(), org.want, settleTimeout))
		case org.s.badSig.Load() > 0:
			errs = append(errs, fmt.Errorf("%s: %d sampled signatures did not verify", org.id, org.s.badSig.Load()))
		}
	}
	if n := f.pubErrors.Load(); n > 0 {
		errs = append(errs, fmt.Errorf("%d asynchronous publishes failed", n))
	}
	return errors.Join(errs...)
}

// fairQuiet is the B-alone run: B and C publish for o.fairWindow against
// a running deliverer with nothing queued. With hog, a hog child keeps
// every core busy meanwhile: CPU load from outside the pipeline, to set
// against the load of A's drain.
func fairQuiet(ctx context.Context, o options, r *report, orgs fairOrgs, hog bool) (fairLoad, error) {
	f, err := newFairEnv(ctx, o, orgs)
	if err != nil {
		return fairLoad{}, err
	}
	defer f.close()
	if hog {
		h, err := startChild(childSpec{Mode: modeHog})
		if err != nil {
			return fairLoad{}, err
		}
		defer func() { _, _, _ = h.stop(ctx) }()
	}
	c, err := startChild(f.delivererSpec(o))
	if err != nil {
		return fairLoad{}, err
	}
	defer func() { _, _, _ = c.stop(ctx) }()
	if err := c.begin(); err != nil {
		return fairLoad{}, err
	}
	l, err := f.publishBC(ctx, o.fairRate, o.fairWindow)
	if err != nil {
		return l, err
	}
	return l, f.settle(ctx, r, &l)
}

// fairNoisy is the noisy run: A's backlog is published, then the
// deliverer starts and B and C publish until A's last event has arrived
// and at least o.fairWindow has passed. It returns A's timed drain and B's
// and C's load, and prints A's drain like the other drains.
func fairNoisy(ctx context.Context, o options, r *report, orgs fairOrgs) (timed, fairLoad, error) {
	f, err := newFairEnv(ctx, o, orgs)
	if err != nil {
		return timed{}, fairLoad{}, err
	}
	defer f.close()
	pub, err := f.publishJobs(ctx, o.fairEvents)
	if err != nil {
		return timed{}, fairLoad{}, err
	}
	r.printf("  %-28s %7d events in %7.2f s = %8.0f/s", "backlog published (async)", o.fairEvents, pub.Seconds(), float64(o.fairEvents)/pub.Seconds())
	spec := f.delivererSpec(o)
	spec.CPUProfile = o.profilePath("fair-" + orgs.where)
	stopProfile, err := profileSelf(o.profilePath("fair-" + orgs.where + "-broker"))
	if err != nil {
		return timed{}, fairLoad{}, err
	}
	defer stopProfile()
	c, err := startChild(spec)
	if err != nil {
		return timed{}, fairLoad{}, err
	}
	loadCtx, stopLoad := context.WithCancelCause(ctx)
	defer stopLoad(nil)
	type published struct {
		l   fairLoad
		err error
	}
	loaded := make(chan published, 1)
	go func() {
		l, err := f.publishBC(loadCtx, o.fairRate, runTimeout)
		loaded <- published{l, err}
	}()
	t, runErr := f.timedRun(ctx, c, o.fairEvents, watch{progress: f.sink.received, stallAfter: o.stallAfter, timeout: runTimeout})
	if runErr == nil {
		sleepCtx(ctx, o.fairWindow-t.Elapsed)
	}
	stopLoad(errFairLoadDone)
	p := <-loaded
	if errors.Is(p.err, context.Canceled) && context.Cause(loadCtx) == errFairLoadDone {
		p.err = nil
	}
	var settleErr error
	if runErr == nil && p.err == nil {
		settleErr = f.settle(ctx, r, &p.l)
	}
	res, _, stopErr := c.stop(ctx)
	if err := errors.Join(runErr, p.err, settleErr, stopErr); err != nil {
		return t, p.l, err
	}
	r.run("A with B, C ("+orgs.where+"): drain", t, res)
	if info, err := f.res.Overflow.Stream.Info(ctx); err == nil {
		r.printf("  moved to %s (A's backlog holding its lane-mates up): %d events", info.Config.Name, info.State.LastSeq)
	}
	return t, p.l, f.checkSink(r, int64(o.fairEvents))
}

// sleepCtx waits for d, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
