package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// scaleOrg is an organization of the scale phase with its own sink (a
// sink verifies one organization's signatures).
type scaleOrg struct {
	id   string
	sink *sink
}

// scaleEnv is a scale world: a cluster of server children with the
// pipeline's streams at one replica count, organizations with signing secrets
// and sinks, and a connection to every node. The embedded env holds the
// connection, the streams and the temporary directory; its srv and sink
// are nil (the servers are child processes, each organization has a
// sink), so env methods that use them must not be called.
type scaleEnv struct {
	*env
	cluster *scaleCluster
	orgs    []scaleOrg
	moved   int      // leader stepdowns made to place the partition leaders
	setup   []string // how long each set-up step took, for the details
}

// newScaleEnv builds a scale world at partitions partitions and replicas
// replicas, step by step (each step's duration is kept for the details):
// the server children, a meta leader, the partition streams on distinct
// servers (created there when not replicated, before streams.Ensure;
// their leaders moved there after it when replicated), then a secret and
// a sink for each of orgs. On error everything started is torn down.
func newScaleEnv(ctx context.Context, o options, partitions, replicas int, orgs []string) (_ *scaleEnv, err error) {
	e := &scaleEnv{env: &env{keep: o.keep}}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.close(ctx))
		}
	}()
	if e.dir, err = os.MkdirTemp("", "webhooks-bench-scale-"); err != nil {
		return nil, err
	}
	e.sc = streams.Config{Partitions: partitions, Replicas: replicas}.WithDefaults()
	steps := []struct {
		name string
		run  func() error
	}{
		{"servers started", func() (err error) {
			e.cluster, err = startCluster(e.dir, true, e.sc.Mappings())
			return err
		}},
		{"meta leader", func() error { return e.waitMetaLeader(ctx) }},
		{"partition streams placed", func() error { return e.placeStreams(ctx) }},
		{"streams", func() error { return e.ensure(ctx) }},
		{"partition leaders placed", func() error { return e.placeLeaders(ctx) }},
		{fmt.Sprintf("%d secrets and sinks", len(orgs)), func() error { return e.addOrgs(ctx, orgs) }},
	}
	for _, st := range steps {
		t0 := time.Now()
		if err := st.run(); err != nil {
			return nil, err
		}
		e.setup = append(e.setup, fmt.Sprintf("%s %.1f s", st.name, time.Since(t0).Seconds()))
	}
	return e, nil
}

// placeStreams creates each partition stream of a one-replica world, the
// deliver one and the attempt one of each partition, on a server of its
// own, named by the server's tag (nothing to do with one partition, or
// when replicated). Left to itself the cluster put every one-replica
// stream on the same server here (the one with the most free storage),
// and a one-replica stream's leader cannot be moved by a stepdown.
// streams.Ensure then finds the streams and keeps their placement (an
// update without one is not a move).
func (e *scaleEnv) placeStreams(ctx context.Context) error {
	parts := e.sc.ConfiguredPartitions()[1:]
	if len(parts) < 2 || e.sc.Replicas > 1 {
		return nil
	}
	names := e.cluster.names()
	var cfgs []jetstream.StreamConfig
	for _, p := range parts {
		cfgs = append(cfgs, e.sc.PartitionStreamConfig(p.Of, p.Index))
	}
	// Partition k's attempt stream goes with its deliver stream.
	for _, p := range e.sc.ConfiguredAttemptStreams()[1:] {
		cfgs = append(cfgs, e.sc.AttemptPartitionStreamConfig(p.Of, p.Index))
	}
	for j, cfg := range cfgs {
		i := j % len(parts)
		cfg.Placement = &jetstream.Placement{Cluster: scaleClusterName, Tags: []string{serverTag(names[i%len(names)])}}
		err := pollUntil(ctx, scaleSetupTimeout, scaleSetupPoll, "stream "+cfg.Name+" on "+names[i%len(names)], func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, scaleEnsureTimeout)
			defer cancel()
			_, err := e.js.CreateOrUpdateStream(ctx, cfg)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// placeLeaders moves the partition streams' leaders onto distinct servers
// (nothing to do with one partition, or one replica).
func (e *scaleEnv) placeLeaders(ctx context.Context) error {
	parts := e.sc.ConfiguredPartitions()[1:]
	if len(parts) < 2 || e.sc.Replicas < 2 {
		return nil
	}
	// The deliver partitions' leaders on distinct servers, and so the
	// attempt partitions' (each set spread on its own).
	for _, set := range [][]streams.Partition{parts, e.sc.ConfiguredAttemptStreams()[1:]} {
		names := make([]string, len(set))
		for i, p := range set {
			names[i] = p.Stream
		}
		moved, err := spreadLeaders(ctx, e.nc, e.js, names, e.cluster.names())
		e.moved += moved
		if err != nil {
			return err
		}
	}
	return nil
}

// connect opens the publisher's connection to every node.
func (e *scaleEnv) connect() error {
	var err error
	if e.nc, err = nats.Connect(e.cluster.urls(), nats.Name("bench"), nats.MaxReconnects(-1)); err != nil {
		return err
	}
	e.js, err = jetstream.New(e.nc, jetstream.WithPublishAsyncMaxPending(publishWindow),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { e.pubErrors.Add(1) }))
	return err
}

// waitMetaLeader connects to every node and waits until the cluster has
// a JetStream meta leader (only the meta leader answers an account info
// request; while there is none, the request goes unanswered, hence a
// short timeout per try).
func (e *scaleEnv) waitMetaLeader(ctx context.Context) error {
	if err := e.connect(); err != nil {
		return err
	}
	return pollUntil(ctx, scaleSetupTimeout, scaleSetupPoll, "a JetStream meta leader", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, metaLeaderTryTimeout)
		defer cancel()
		_, err := e.js.AccountInfo(ctx)
		return err
	})
}

// ensure runs streams.Ensure until the cluster can place every replica
// (right after start-up the meta leader may not know every peer yet).
func (e *scaleEnv) ensure(ctx context.Context) error {
	return pollUntil(ctx, scaleSetupTimeout, scaleSetupPoll, "streams.Ensure", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, scaleEnsureTimeout)
		defer cancel()
		var err error
		e.res, err = streams.Ensure(ctx, e.js, e.sc)
		return err
	})
}

// addOrgs gives each organization a signing secret and a sink.
func (e *scaleEnv) addOrgs(ctx context.Context, ids []string) error {
	mgr := &secrets.Manager{KV: e.res.Secrets, Keyring: secrets.DevKeyring()}
	for _, id := range ids {
		secret, _, err := mgr.Create(ctx, id)
		if err != nil {
			return fmt.Errorf("create the signing secret of %s: %w", id, err)
		}
		s, err := newSink(secret)
		if err != nil {
			return err
		}
		e.orgs = append(e.orgs, scaleOrg{id: id, sink: s})
	}
	return nil
}

// close tears the world down: sinks, connection, servers (gracefully),
// then the directory unless kept. It is safe on a partly built world and
// returns the servers' shutdown errors.
func (e *scaleEnv) close(ctx context.Context) error {
	for _, o := range e.orgs {
		o.sink.close()
	}
	if e.nc != nil {
		e.nc.Close()
	}
	var err error
	if e.cluster != nil {
		err = e.cluster.stop(ctx)
	}
	if e.dir != "" && !e.keep {
		_ = os.RemoveAll(e.dir)
	}
	return err
}

// jobBuilder returns the builder of event i of the backlog: a job event
// of organization i modulo the count, for its sink.
func (e *scaleEnv) jobBuilder(now time.Time) func(i int) (*nats.Msg, error) {
	return func(i int) (*nats.Msg, error) {
		o := e.orgs[i%len(e.orgs)]
		req, err := envelope.NewJobRequest(now, o.id, o.sink.url, envelope.JobResult{
			TaskID: "scale-" + itoa(i), Status: envelope.StatusCompleted, TaskType: "find_email", Result: jobResult,
		})
		if err != nil {
			return nil, err
		}
		return e.requestMsg(req)
	}
}

// received returns the distinct events every sink has received.
func (e *scaleEnv) received() int64 {
	var n int64
	for _, o := range e.orgs {
		n += o.sink.received()
	}
	return n
}

// stored lists the messages on each deliver stream ("WEBHOOKS 0, ...").
func (e *scaleEnv) stored(ctx context.Context) (string, error) {
	var parts []string
	for _, p := range e.sc.ConfiguredPartitions() {
		s, err := e.js.Stream(ctx, p.Stream)
		if err != nil {
			return "", fmt.Errorf("stream %s: %w", p.Stream, err)
		}
		parts = append(parts, fmt.Sprintf("%s %d", p.Stream, s.CachedInfo().State.Msgs))
	}
	return strings.Join(parts, ", "), nil
}

// checkSinks reports duplicate deliveries and fails when fewer than want
// events arrived, a sampled signature did not verify, or a publish failed.
func (e *scaleEnv) checkSinks(r *report, want int64) error {
	var total, dups, bad int64
	for _, o := range e.orgs {
		total += o.sink.total.Load()
		dups += o.sink.duplicates()
		bad += o.sink.badSig.Load()
	}
	if dups > 0 || bad > 0 || e.pubErrors.Load() > 0 {
		r.printf("  sinks: %d duplicate deliveries, %d sampled signatures bad, %d publish errors", dups, bad, e.pubErrors.Load())
	}
	switch {
	case e.received() < want:
		return fmt.Errorf("sinks received %d of %d events", e.received(), want)
	case bad > 0:
		return fmt.Errorf("%d sampled signatures did not verify (%d deliveries)", bad, total)
	case e.pubErrors.Load() > 0:
		return fmt.Errorf("%d asynchronous publishes failed", e.pubErrors.Load())
	}
	return nil
}
