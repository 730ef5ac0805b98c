package streams

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// Attempt partitions. When the deliveries are partitioned, so are their
// attempt records: an organization's records go to the attempt stream of
// its partition (WEBHOOKS_ATTEMPTS_P<of>_<index>), which the cluster
// places like any stream, instead of all to WEBHOOKS_ATTEMPTS, whose one
// leader would store every record of every partition (the bench's scale
// phase measured it costing the server that leads it as much as a deliver
// partition). WEBHOOKS_ATTEMPTS always exists: it holds the records of an
// unpartitioned config, and those written by deliverers still running
// with one while the count changes. The log writers consume every attempt
// stream that exists, through a consumer of the same name on each.

// attemptPartitionPrefix starts the subjects of every attempt partition
// stream. It is a token of its own (not under <prefix>.attempt), so that
// WEBHOOKS_ATTEMPTS keeps its subjects and no two streams overlap.
func (c Config) attemptPartitionPrefix() string { return c.SubjectPrefix + ".attempt-partition." }

// AttemptPartitionStream is the name of the attempt stream of partition
// index of of: <AttemptsStream>_P<of>_<index>.
func (c Config) AttemptPartitionStream(of, index int) string {
	return c.AttemptsStream + "_P" + strconv.Itoa(of) + "_" + strconv.Itoa(index)
}

// attemptPartitionSubjects are the subjects of the attempt stream of
// partition index of of.
func (c Config) attemptPartitionSubjects(of, index int) []string {
	return []string{c.attemptPartitionPrefix() + strconv.Itoa(of) + "." + strconv.Itoa(index) + ".>"}
}

// AttemptPartitionStreamConfig is the attempt stream of partition index of
// of: WEBHOOKS_ATTEMPTS's settings on the partition's subjects,
// <prefix>.attempt-partition.<of>.<index>.<org_id>.<source>.
func (c Config) AttemptPartitionStreamConfig(of, index int) jetstream.StreamConfig {
	sc := c.AttemptsStreamConfig()
	sc.Name = c.AttemptPartitionStream(of, index)
	sc.Description = fmt.Sprintf("Webhook attempt records of partition %d of %d, until the log writer stores them", index, of)
	sc.Subjects = c.attemptPartitionSubjects(of, index)
	return sc
}

// ConfiguredAttemptStreams returns the attempt streams of c:
// WEBHOOKS_ATTEMPTS first, then one per partition when c is partitioned.
// Streams of another count are not included: see AttemptStreams.
func (c Config) ConfiguredAttemptStreams() []Partition {
	return c.configured(c.AttemptsStream, c.AttemptPartitionStream)
}

// AttemptStreams returns every attempt stream that exists on the server:
// WEBHOOKS_ATTEMPTS first, then the attempt partitions of every count,
// ordered by count and index.
func AttemptStreams(ctx context.Context, js jetstream.JetStream, c Config) ([]Partition, error) {
	c = c.WithDefaults()
	return listPartitions(ctx, js, c.AttemptsStream, c.attemptPartitionPrefix(), "attempt streams")
}

// sortPartitions orders partitions by count, then index.
func sortPartitions(parts []Partition) {
	sort.Slice(parts, func(i, j int) bool {
		if parts[i].Of != parts[j].Of {
			return parts[i].Of < parts[j].Of
		}
		return parts[i].Index < parts[j].Index
	})
}

// AttemptFilterIn returns the subject filter of the records of one
// organization and source ("" for both) on the attempt stream p; false
// when p cannot hold them (a partition the organization does not hash to).
func (c Config) AttemptFilterIn(p Partition, orgID string, source envelope.Source) (string, bool) {
	if p.Of == 0 {
		return c.AttemptFilter(orgID, source), true
	}
	if partitionOf(orgID, p.Of) != p.Index {
		return "", false
	}
	src := string(source)
	if src == "" {
		src = "*"
	}
	return c.attemptPartitionPrefix() + strconv.Itoa(p.Of) + "." + strconv.Itoa(p.Index) + "." + orgID + "." + src, true
}

// ensureAttemptPartitions creates c's attempt partition streams and the
// log writers' consumer on each.
func ensureAttemptPartitions(ctx context.Context, js jetstream.JetStream, c Config) ([]PartitionResources, error) {
	var out []PartitionResources
	for _, p := range c.ConfiguredAttemptStreams()[1:] {
		s, err := js.CreateOrUpdateStream(ctx, c.AttemptPartitionStreamConfig(p.Of, p.Index))
		if err != nil {
			return nil, fmt.Errorf("streams: ensure %s: %w", p.Stream, err)
		}
		cons, err := s.CreateOrUpdateConsumer(ctx, c.LogConsumerConfig())
		if err != nil {
			return nil, fmt.Errorf("streams: ensure consumer %s on %s: %w", c.LogConsumer, p.Stream, err)
		}
		out = append(out, PartitionResources{Partition: p, Stream: s, Consumers: []jetstream.Consumer{cons}})
	}
	return out, nil
}
