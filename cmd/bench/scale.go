package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// The scale phase's settings.
const (
	// scaleReplicas is the replica count of every stream, consumer and
	// bucket in the phase's main comparison (the production setting).
	scaleReplicas = 3
	// scalePartitions is the partition count compared with one partition.
	scalePartitions = 3
	// scaleOrgsPerPartition is how many organizations hash to each of the
	// scalePartitions partitions: the events go round-robin over all of
	// them, so that each partition gets an even share.
	scaleOrgsPerPartition = 20
	// scaleOrgPrefix starts the organization ids of the scale phase.
	scaleOrgPrefix = "org_scale_"
	// scaleEventsDefault is the backlog of each run in the full phase
	// (-scale-events).
	scaleEventsDefault = 50_000
	// scaleSetupTimeout bounds the wait for a meta leader and for
	// streams.Ensure to succeed on a fresh cluster.
	scaleSetupTimeout = 2 * time.Minute
	// metaLeaderTryTimeout bounds one account info request while waiting
	// for a meta leader.
	metaLeaderTryTimeout = time.Second
	// scaleEnsureTimeout bounds one try of streams.Ensure.
	scaleEnsureTimeout = 30 * time.Second
	// scaleSetupPoll is how often the cluster is tried while it comes up.
	scaleSetupPoll = 100 * time.Millisecond
)

// scaleRun is what one drain of the scale phase measured.
type scaleRun struct {
	partitions int
	t          timed
	servers    []string        // node names, node order
	cpu        []time.Duration // each node's CPU during the drain, node order
	sys        []time.Duration // the system part of cpu
	threads    []int           // each node's threads at the end of the drain
	conn       string          // the node holding the deliverer's connection
	res        childResult     // the deliverer's report
	leaders    []streamLeaders // before the backlog was published
}

// perEvent returns node i's CPU milliseconds per delivered event.
func (s scaleRun) perEvent(i int) float64 { return cpuPerEvent(s.cpu[i], s.t.N) }

// busiest returns the index of the node with the most CPU in the drain.
func (s scaleRun) busiest() int {
	b := 0
	for i := range s.cpu {
		if s.cpu[i] > s.cpu[b] {
			b = i
		}
	}
	return b
}

// scaleSetting is one comparison of the scale phase: a replica count,
// run at one partition and at scalePartitions.
type scaleSetting struct {
	replicas int
	suffix   string // of its BENCH fields ("" for the main comparison)
	what     string // for the details
}

// scaleSettings are the phase's comparisons: the production replication,
// where every server stores every event whatever the partition count, and
// one replica, the smallest cluster with more servers than replicas, where
// each partition's work can go to a server of its own.
var scaleSettings = []scaleSetting{
	{replicas: scaleReplicas, what: "replicas = servers: every server stores and syncs every event, whatever the partition count"},
	{replicas: 1, suffix: "_r1", what: "more servers than replicas: each partition stream created on a server of its own"},
}

// scale compares one deliver partition with scalePartitions on a
// scaleNodes-node cluster whose servers are child processes with
// synchronous file storage (fsync on every write), once for each of
// scaleSettings (every stream, consumer and bucket at its replica count).
// Each run, in a fresh cluster: the partition streams go to distinct
// servers (leaders moved there when replicated, streams created there
// when not), o.scaleEvents job events are published round-robin over
// organizations of which scaleOrgsPerPartition hash to each partition,
// then the real deliverer (connected to every node) drains them. The CPU
// of each server is read from /proc over the drain (from "go" until the
// sinks have every event). scale_busiest_cpu_per_event_ratio is the
// largest server CPU per delivered event at scalePartitions over the same
// at one partition; scale_drain_ratio the events/s at scalePartitions over
// one partition; the fields of the one-replica comparison end in _r1.
func scale(ctx context.Context, o options, r *report) error {
	orgs := scaleOrgIDs()
	r.printf("  %d-node cluster (each server a child process), synchronous file storage (fsync every write); %d job events per run, round-robin over %d organizations, %s; deliverer concurrency=%d prefetch=%d per_host=%d",
		scaleNodes, o.scaleEvents, len(orgs), partitionShares(orgs, o.scaleEvents), o.concurrency, o.prefetch, o.perHost)
	if o.quick {
		r.printf("  quick: %d events per run (full run: %d)", o.scaleEvents, scaleEventsDefault)
	}
	for _, set := range scaleSettings {
		if err := scaleCompare(ctx, o, r, set, orgs); err != nil {
			return fmt.Errorf("%d replicas: %w", set.replicas, err)
		}
	}
	return nil
}

// scaleCompare runs one setting at one partition, then at
// scalePartitions, and prints and records the ratios.
func scaleCompare(ctx context.Context, o options, r *report, set scaleSetting, orgs []string) error {
	r.printf("  %d replicas (%s)", set.replicas, set.what)
	var runs []scaleRun
	for _, p := range []int{1, scalePartitions} {
		run, err := scaleOnce(ctx, o, r, p, set.replicas, orgs)
		if err != nil {
			return fmt.Errorf("P=%d: %w", p, err)
		}
		runs = append(runs, run)
	}
	p1, pn := runs[0], runs[1]
	b1, bn := p1.busiest(), pn.busiest()
	cpuRatio := pn.perEvent(bn) / p1.perEvent(b1)
	r.printf("  R%d busiest server CPU per event: P=1 %s %.3f ms (%.0f%% of all servers' CPU), P=%d %s %.3f ms (%.0f%%): ratio %.3f (target <= 0.6)",
		set.replicas, p1.servers[b1], p1.perEvent(b1), 100*p1.perEvent(b1)/totalPerEvent(p1),
		scalePartitions, pn.servers[bn], pn.perEvent(bn), 100*pn.perEvent(bn)/totalPerEvent(pn), cpuRatio)
	r.printf("  R%d all servers' CPU per event: P=1 %.3f ms, P=%d %.3f ms; drain P=1 %.0f/s, P=%d %.0f/s: ratio %.2f",
		set.replicas, totalPerEvent(p1), scalePartitions, totalPerEvent(pn), p1.t.perSec(), scalePartitions, pn.t.perSec(), pn.t.perSec()/p1.t.perSec())
	r.set("scale_drain_per_s_p1"+set.suffix, p1.t.perSec())
	r.set("scale_drain_per_s_p3"+set.suffix, pn.t.perSec())
	r.set("scale_drain_ratio"+set.suffix, pn.t.perSec()/p1.t.perSec())
	r.set("scale_busiest_cpu_per_event_ratio"+set.suffix, cpuRatio)
	return nil
}

// totalPerEvent returns the CPU milliseconds per event of all servers.
func totalPerEvent(s scaleRun) float64 {
	var sum time.Duration
	for _, c := range s.cpu {
		sum += c
	}
	return cpuPerEvent(sum, s.t.N)
}

// scaleOrgIDs returns organizations of which exactly
// scaleOrgsPerPartition hash to each of the scalePartitions partitions,
// the first ids of scaleOrgPrefix<i> that fit, interleaved by partition.
func scaleOrgIDs() []string {
	sc := streams.Config{Partitions: scalePartitions}.WithDefaults()
	byPartition := make([][]string, scalePartitions)
	for i, found := 0, 0; found < scalePartitions*scaleOrgsPerPartition; i++ {
		id := fmt.Sprintf("%s%d", scaleOrgPrefix, i)
		if p := sc.PartitionOf(id); len(byPartition[p]) < scaleOrgsPerPartition {
			byPartition[p] = append(byPartition[p], id)
			found++
		}
	}
	var out []string
	for j := range scaleOrgsPerPartition {
		for p := range byPartition {
			out = append(out, byPartition[p][j])
		}
	}
	return out
}

// partitionShares describes how the organizations and n round-robin
// events fall on the partitions at scalePartitions.
func partitionShares(orgs []string, n int) string {
	sc := streams.Config{Partitions: scalePartitions}.WithDefaults()
	nOrgs, nEvents := make([]int, scalePartitions), make([]int, scalePartitions)
	for _, id := range orgs {
		nOrgs[sc.PartitionOf(id)]++
	}
	for i := range n {
		nEvents[sc.PartitionOf(orgs[i%len(orgs)])]++
	}
	var parts []string
	for p := range scalePartitions {
		parts = append(parts, fmt.Sprintf("%d: %d orgs, %d events", p, nOrgs[p], nEvents[p]))
	}
	return fmt.Sprintf("at P=%d by PartitionOf: %s", scalePartitions, strings.Join(parts, "; "))
}

// scaleOnce is one run at partitions partitions and replicas replicas in
// a fresh cluster.
func scaleOnce(ctx context.Context, o options, r *report, partitions, replicas int, orgs []string) (_ scaleRun, err error) {
	e, err := newScaleEnv(ctx, o, partitions, replicas, orgs)
	if err != nil {
		return scaleRun{}, err
	}
	defer func() { err = errors.Join(err, e.close(ctx)) }()
	label := fmt.Sprintf("R%d P=%d", replicas, partitions)
	leaders, err := e.leaders(ctx)
	if err != nil {
		return scaleRun{}, err
	}
	r.printf("  %s: set up: %s", label, strings.Join(e.setup, ", "))
	if o.keep {
		r.printf("  %s: kept in %s (server stores and logs, the attempt log)", label, e.dir)
	}
	r.printf("  %s: leaders (after %d leader stepdowns): %s", label, e.moved, perServer(leaders, e.cluster.names()))
	for _, sl := range leaders {
		r.printf("    %s", sl)
	}
	pub, err := e.publishBacklog(ctx, o.scaleEvents, e.jobBuilder(time.Now()))
	if err != nil {
		return scaleRun{}, fmt.Errorf("publish the backlog: %w", err)
	}
	stored, err := e.stored(ctx)
	if err != nil {
		return scaleRun{}, err
	}
	r.printf("  %s: backlog published (async) %d events in %.2f s = %.0f/s; stored: %s",
		label, o.scaleEvents, pub.Seconds(), float64(o.scaleEvents)/pub.Seconds(), stored)
	run, err := e.drain(ctx, o)
	if err != nil {
		return run, err
	}
	run.leaders = leaders
	e.printRun(ctx, r, label, run)
	return run, e.checkSinks(r, int64(o.scaleEvents))
}

// leaders reads the leaders of the deliver streams (with the deliverers'
// consumers and lanes), the attempt streams (with the log consumer) and
// WEBHOOKS_UNDELIVERED.
func (e *scaleEnv) leaders(ctx context.Context) ([]streamLeaders, error) {
	var order []string
	consumers, lanes := map[string][]string{}, map[string]bool{}
	for _, p := range e.sc.ConfiguredPartitions() {
		order = append(order, p.Stream)
		for _, l := range e.sc.LanesOf(p) {
			consumers[p.Stream] = append(consumers[p.Stream], l.Consumer)
		}
		if p.Of == 0 {
			consumers[p.Stream] = append(consumers[p.Stream], e.sc.WaiterConsumer)
		}
		lanes[p.Stream] = p.Of != 0
	}
	for _, p := range e.sc.ConfiguredAttemptStreams() {
		order = append(order, p.Stream)
		consumers[p.Stream] = []string{e.sc.LogConsumer}
	}
	order = append(order, e.sc.UndeliveredStream)
	return readLeaders(ctx, e.js, order, consumers, lanes)
}

// drain starts the deliverer, connected to every node, and times it until
// the sinks have every event, reading each node's CPU at "go" and at the
// last event.
func (e *scaleEnv) drain(ctx context.Context, o options) (scaleRun, error) {
	spec := childSpec{
		Mode: modeDeliverer, NATSURL: e.cluster.urls(), Streams: e.sc,
		Workers: o.concurrency, PerHost: o.perHost, MaxWaiting: o.maxWaiting, Prefetch: o.prefetch,
		LogPath:         filepath.Join(e.dir, fmt.Sprintf("deliverer-p%d.log", e.sc.Partitions)),
		ShutdownTimeout: childShutdownTimeout,
	}
	run := scaleRun{partitions: e.sc.Partitions, servers: e.cluster.names(), t: timed{N: o.scaleEvents}}
	c, err := startChild(spec)
	if err != nil {
		return run, err
	}
	run.conn = e.cluster.clientOf("bench-" + modeDeliverer)
	profileErr := e.cluster.profile(o.profileDir, fmt.Sprintf("scale-r%d-p%d", e.sc.Replicas, e.sc.Partitions))
	u0 := e.cluster.usage()
	t, runErr := e.timedRun(ctx, c, o.scaleEvents, watch{progress: e.received, stallAfter: o.stallAfter, timeout: runTimeout})
	u1 := e.cluster.usage()
	profileErr = errors.Join(profileErr, e.cluster.profile(o.profileDir, ""))
	res, _, stopErr := c.stop(ctx)
	run.t = t
	for i := range u1 {
		run.cpu = append(run.cpu, u1[i].cpu()-u0[i].cpu())
		run.sys = append(run.sys, u1[i].sys-u0[i].sys)
		run.threads = append(run.threads, u1[i].threads)
	}
	run.res = res
	return run, errors.Join(runErr, stopErr, profileErr)
}

// printRun prints a drain: events/s and the deliverer's CPU, then each
// server's CPU and what it leads, then leaders that changed meanwhile.
func (e *scaleEnv) printRun(ctx context.Context, r *report, label string, run scaleRun) {
	t := run.t
	r.printf("  %s: deliverer drain %d events in %.2f s = %.0f/s | deliverer CPU %.3f ms/event, peak RSS %s MiB, connected to %s",
		label, t.N, t.Elapsed.Seconds(), t.perSec(), cpuPerEvent(t.ChildCPU, t.N), mb(t.ChildRSS), run.conn)
	r.stalls(t.Stalls)
	r.leaks(label+" deliverer", run.res)
	b := run.busiest()
	for i, name := range run.servers {
		notes := []string{"leads " + ledStreams(run.leaders, name)}
		if name == run.conn {
			notes = append(notes, "the deliverer's connection")
		}
		if i == b {
			notes = append(notes, "BUSIEST")
		}
		r.printf("    %s: CPU %6.2f s (%2.0f%% system) = %.3f ms/event, %d threads at the end (%s)", name, run.cpu[i].Seconds(),
			100*run.sys[i].Seconds()/max(run.cpu[i].Seconds(), 1e-9), run.perEvent(i), run.threads[i], strings.Join(notes, "; "))
	}
	after, err := e.leaders(ctx)
	if err != nil {
		r.printf("    leaders after the drain: %v", err)
		return
	}
	if changed := leaderChanges(run.leaders, after); len(changed) > 0 {
		r.printf("    leaders changed during the run: %s", strings.Join(changed, ", "))
		return
	}
	r.printf("    leaders unchanged during the run")
}
