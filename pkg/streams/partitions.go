package streams

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// DefaultPartitions is the number of deliver partitions: 1 keeps every
// pending delivery on the one WEBHOOKS stream and needs no subject mapping
// on the server, which suits local use; production clusters use several
// (see the README's "Partitions").
const DefaultPartitions = 1

// MaxPartitions bounds Config.Partitions: each partition is a stream with
// its own leader and a consumer per deliverer group.
const MaxPartitions = 64

// Lanes is the number of lanes of every partition stream. A lane holds
// the organizations of one value of a finer hash (FNV-1a modulo
// partitions × Lanes) and has its own durable consumer, which the server
// serves past the other lanes' backlogs: an organization behind which
// another queues 200,000 events waits only when both share a lane, one
// chance in partitions × Lanes. The deliverers take turns among lanes with
// messages, so one busy lane alone gets all the workers. Changing it
// changes the subjects, as a change of the partition count does.
const Lanes = 8

// Partition is one stream the deliverers consume. The unpartitioned
// stream (WEBHOOKS, Of 0) always exists: it takes events published while
// the server has no partition mapping, and it keeps the workflow events
// waiting for their CSV. A partitioned stream holds the pending deliveries
// of the organizations that hash to Index of Of.
type Partition struct {
	// Stream is the stream's name: WEBHOOKS, or WEBHOOKS_P<of>_<index>.
	Stream string
	// Of is the partition count the stream belongs to; 0 for the
	// unpartitioned stream.
	Of int
	// Index is the partition's number, 0..Of-1 (0 for the unpartitioned stream).
	Index int
	// Overflow marks the overflow stream (WEBHOOKS_OVERFLOW, Of 0): the
	// events a deliverer moved out of a lane where their organization's
	// backlog held others up.
	Overflow bool
}

// Label names the partition in metrics and logs: "none" for the
// unpartitioned stream, "overflow" for the overflow stream, else
// "<index>/<of>".
func (p Partition) Label() string {
	if p.Overflow {
		return "overflow"
	}
	if p.Of == 0 {
		return "none"
	}
	return strconv.Itoa(p.Index) + "/" + strconv.Itoa(p.Of)
}

// Lane is one lane of a deliver stream and the deliverers' durable
// consumer on it. The unpartitioned stream has one lane, the consumer
// named Config.Consumer.
type Lane struct {
	Partition Partition
	// Index is the lane's number in its partition, 0..Lanes-1.
	Index int
	// Consumer is the durable consumer's name: Config.Consumer on the
	// unpartitioned stream, <Consumer>_L<index> on a partition.
	Consumer string
	// Filter is the consumer's subject filter; "" for the whole stream.
	Filter string
}

// Label names the lane in logs: the partition's label, then the lane.
func (l Lane) Label() string {
	if l.Partition.Of == 0 {
		return l.Partition.Label()
	}
	return l.Partition.Label() + " lane " + strconv.Itoa(l.Index)
}

// LanesOf returns the lanes of partition p, each with its consumer.
func (c Config) LanesOf(p Partition) []Lane {
	if p.Overflow {
		return c.overflowLanes(p)
	}
	if p.Of == 0 {
		return []Lane{{Partition: p, Consumer: c.Consumer, Filter: c.SubjectPrefix + ".deliver.>"}}
	}
	out := make([]Lane, Lanes)
	for i := range out {
		out[i] = Lane{
			Partition: p, Index: i,
			Consumer: c.Consumer + "_L" + strconv.Itoa(i),
			Filter:   c.partitionPrefix() + strconv.Itoa(p.Of) + "." + strconv.Itoa(p.Index) + "." + strconv.Itoa(p.Index+i*p.Of) + ".>",
		}
	}
	return out
}

// Partitioned reports whether c spreads deliveries over several streams.
func (c Config) Partitioned() bool { return c.Partitions > 1 }

// PartitionOf returns the partition of an organization among c.Partitions:
// FNV-1a (32 bits) of the organization id modulo the count, which is what
// the server's partition() subject transform computes. It is 0 when c is
// not partitioned.
func (c Config) PartitionOf(orgID string) int {
	return partitionOf(orgID, c.Partitions)
}

func partitionOf(orgID string, of int) int {
	if of <= 1 {
		return 0
	}
	return int(fnv32a(orgID) % uint32(of))
}

// laneKey is the finer hash of an organization among of partitions:
// FNV-1a modulo of × Lanes. Its value modulo of is the partition; its
// value divided by of is the lane.
func laneKey(orgID string, of int) int {
	return int(fnv32a(orgID) % uint32(of*Lanes))
}

func fnv32a(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

// LaneOf returns the lane of an organization in its partition among
// c.Partitions; 0 when c is not partitioned.
func (c Config) LaneOf(orgID string) int {
	if !c.Partitioned() {
		return 0
	}
	return laneKey(orgID, c.Partitions) / c.Partitions
}

// PartitionStream is the name of partition index of of: <DeliverStream>_P<of>_<index>.
func (c Config) PartitionStream(of, index int) string {
	return c.DeliverStream + "_P" + strconv.Itoa(of) + "_" + strconv.Itoa(index)
}

// partitionPrefix starts the subjects of every partitioned stream.
func (c Config) partitionPrefix() string { return c.SubjectPrefix + ".partition." }

// PartitionSubject is where the server's mapping stores an event of orgID
// and source when there are of partitions:
// <prefix>.partition.<of>.<index>.<lane key>.<org_id>.<source>, where the
// lane key is FNV-1a modulo of × Lanes (index is the key modulo of).
func (c Config) PartitionSubject(of int, orgID string, source envelope.Source) string {
	return c.partitionPrefix() + strconv.Itoa(of) + "." + strconv.Itoa(partitionOf(orgID, of)) + "." +
		strconv.Itoa(laneKey(orgID, of)) + "." + orgID + "." + string(source)
}

// ConfiguredPartitions returns the streams of c, the unpartitioned one
// first, then c.Partitions partitions when c is partitioned. Streams of
// another count, left from a change of the count, are not included: see
// DeliverPartitions.
func (c Config) ConfiguredPartitions() []Partition {
	return c.configured(c.DeliverStream, c.PartitionStream)
}

// configured returns base, then the c.Partitions streams that name gives
// when c is partitioned.
func (c Config) configured(base string, name func(of, index int) string) []Partition {
	out := []Partition{{Stream: base}}
	if !c.Partitioned() {
		return out
	}
	for k := range c.Partitions {
		out = append(out, Partition{Stream: name(c.Partitions, k), Of: c.Partitions, Index: k})
	}
	return out
}

// Mappings returns the subject mapping every NATS server of the cluster
// must hold when c is partitioned, source to destination: an event
// published on <prefix>.deliver.<org>.<source> is stored on its
// organization's partition stream. It is nil for an unpartitioned config.
// The destination uses the server's partition() transform, whose hash
// PartitionOf reproduces.
func (c Config) Mappings() map[string]string {
	if !c.Partitioned() {
		return nil
	}
	n := strconv.Itoa(c.Partitions)
	keys := strconv.Itoa(c.Partitions * Lanes)
	return map[string]string{
		c.SubjectPrefix + ".deliver.*.*": c.partitionPrefix() + n + ".{{partition(" + n + ",1)}}.{{partition(" + keys + ",1)}}.{{wildcard(1)}}.{{wildcard(2)}}",
	}
}

// MappingConfig returns the mapping as a nats-server configuration block,
// to paste into every server's configuration file (then reload each
// server); "" for an unpartitioned config.
func (c Config) MappingConfig() string {
	m := c.Mappings()
	if m == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString("mappings {\n")
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %q: %q\n", k, m[k])
	}
	b.WriteString("}\n")
	return b.String()
}

// PartitionStreamConfig is the stream of partition index of of: WEBHOOKS's
// settings on the partition's subjects.
func (c Config) PartitionStreamConfig(of, index int) jetstream.StreamConfig {
	sc := c.DeliverStreamConfig()
	sc.Name = c.PartitionStream(of, index)
	sc.Description = fmt.Sprintf("Pending webhook deliveries, partition %d of %d", index, of)
	sc.Subjects = []string{c.partitionPrefix() + strconv.Itoa(of) + "." + strconv.Itoa(index) + ".>"}
	return sc
}

// LaneConsumerConfig is the deliverers' durable consumer of lane l: the
// same settings as on WEBHOOKS, on the lane's subjects. With more than one
// replica its state (delivery counts, pending acks) is kept in memory on
// each replica (MemoryStorage) instead of in files: a partition's Lanes
// consumers each wrote and fsynced their state after their share of the
// acks, which made every server's CPU per delivered event 2.3 times as
// high at 3 partitions (the bench's scale phase). The messages themselves
// stay in the file-stored stream, so no event is lost; a replica that
// restarts gets the state from the others. Only when every replica of a
// consumer stops at once is its state gone: its pending events are then
// delivered again from attempt 1, at once (see the README's "Partitions
// and fairness"). With one replica (a single server) the state is kept in
// files, since there is no other copy.
func (c Config) LaneConsumerConfig(l Lane) jetstream.ConsumerConfig {
	cc := c.ConsumerConfig()
	cc.Durable = l.Consumer
	cc.FilterSubject = l.Filter
	cc.MemoryStorage = c.Replicas > 1
	return cc
}

// ParseDeliverSubject returns the organization and source of a pending
// delivery's subject: <prefix>.deliver.<org>.<source> on the unpartitioned
// stream, or <prefix>.partition.<of>.<index>.<key>.<org>.<source> on a
// partition, whose index and lane key must be the organization's. The
// third result is false for any other subject.
func (c Config) ParseDeliverSubject(subject string) (orgID string, source envelope.Source, ok bool) {
	rest, found := strings.CutPrefix(subject, c.SubjectPrefix+".")
	if !found {
		return "", "", false
	}
	tok := strings.Split(rest, ".")
	switch {
	case len(tok) == 3 && tok[0] == "deliver":
		return tok[1], envelope.Source(tok[2]), true
	case len(tok) == 6 && tok[0] == "partition":
		of, err := strconv.Atoi(tok[1])
		if err != nil || of < 2 || of > MaxPartitions || tok[1] != strconv.Itoa(of) ||
			tok[2] != strconv.Itoa(partitionOf(tok[4], of)) || tok[3] != strconv.Itoa(laneKey(tok[4], of)) {
			return "", "", false
		}
		return tok[4], envelope.Source(tok[5]), true
	case len(tok) == 4 && tok[0] == "overflow":
		return parseOverflowSubject(tok[1:])
	}
	return "", "", false
}

// PendingFilters returns the streams and subject filters that may hold an
// organization's pending deliveries of source, per c: the unpartitioned
// stream (deliver and waiting subjects), the overflow stream and, when
// partitioned, the organization's partition.
func (c Config) PendingFilters(orgID string, source envelope.Source) map[string]string {
	out := map[string]string{
		c.DeliverStream:    c.SubjectPrefix + ".*." + orgID + "." + string(source),
		c.OverflowStream(): c.OverflowSubject(orgID, source),
	}
	if c.Partitioned() {
		out[c.PartitionStream(c.Partitions, c.PartitionOf(orgID))] = c.PartitionSubject(c.Partitions, orgID, source)
	}
	return out
}

// IsDeliverStream reports whether name is the unpartitioned deliver stream
// or a partition stream of any count: a publish acknowledged by another
// stream was stored where no deliverer reads it.
func (c Config) IsDeliverStream(name string) bool {
	if name == c.DeliverStream {
		return true
	}
	_, _, ok := c.parsePartitionStream(name)
	return ok
}

// parsePartitionStream reads <DeliverStream>_P<of>_<index>.
func (c Config) parsePartitionStream(name string) (of, index int, ok bool) {
	return parsePartitionName(name, c.DeliverStream)
}

// parsePartitionName reads <base>_P<of>_<index>, the name of a partition
// of the stream base.
func parsePartitionName(name, base string) (of, index int, ok bool) {
	rest, found := strings.CutPrefix(name, base+"_P")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(rest, "_")
	if !found {
		return 0, 0, false
	}
	of, err1 := strconv.Atoi(a)
	index, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || of < 2 || of > MaxPartitions || index < 0 || index >= of ||
		a != strconv.Itoa(of) || b != strconv.Itoa(index) {
		return 0, 0, false
	}
	return of, index, true
}

// DeliverPartitions returns every deliver stream that exists on the
// server: the unpartitioned one first, then the partitions of every count,
// ordered by count and index, then the overflow stream when it exists.
// Streams of a count other than c's are left from a change of the count
// and are consumed until they are empty.
func DeliverPartitions(ctx context.Context, js jetstream.JetStream, c Config) ([]Partition, error) {
	c = c.WithDefaults()
	parts, err := listPartitions(ctx, js, c.DeliverStream, c.partitionPrefix(), "partition streams")
	if err != nil {
		return nil, err
	}
	return withOverflow(ctx, js, c, parts)
}

// listPartitions returns base first, then the streams named base_P<of>_<k>
// that listen on subjects under prefix, ordered by count and index; what
// names them in an error.
func listPartitions(ctx context.Context, js jetstream.JetStream, base, prefix, what string) ([]Partition, error) {
	names := js.StreamNames(ctx, jetstream.WithStreamListSubject(prefix+">"))
	var parts []Partition
	for name := range names.Name() {
		if of, index, ok := parsePartitionName(name, base); ok {
			parts = append(parts, Partition{Stream: name, Of: of, Index: index})
		}
	}
	if err := names.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
		return nil, fmt.Errorf("streams: list the %s: %w", what, err)
	}
	sortPartitions(parts)
	return append([]Partition{{Stream: base}}, parts...), nil
}

// ensurePartitions creates c's partition streams and the deliverers'
// consumer of each of their lanes.
func ensurePartitions(ctx context.Context, js jetstream.JetStream, c Config) ([]PartitionResources, error) {
	var out []PartitionResources
	for _, p := range c.ConfiguredPartitions()[1:] {
		r, err := ensureLanes(ctx, js, c, p, c.PartitionStreamConfig(p.Of, p.Index))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ensureLanes creates the stream of p with sc and the deliverers' consumer
// of each of its lanes.
func ensureLanes(ctx context.Context, js jetstream.JetStream, c Config, p Partition, sc jetstream.StreamConfig) (PartitionResources, error) {
	s, err := js.CreateOrUpdateStream(ctx, sc)
	if err != nil {
		return PartitionResources{}, fmt.Errorf("streams: ensure %s: %w", p.Stream, err)
	}
	r := PartitionResources{Partition: p, Stream: s}
	for _, l := range c.LanesOf(p) {
		cons, err := s.CreateOrUpdateConsumer(ctx, keepStorage(ctx, s, c.LaneConsumerConfig(l)))
		if err != nil {
			return PartitionResources{}, consumerError(ctx, s, l.Consumer, err)
		}
		r.Consumers = append(r.Consumers, cons)
	}
	return r, nil
}

// keepStorage returns cc with the storage of the consumer of its name that
// exists on s, if any: the server cannot change a consumer's storage, and
// a lane consumer made by an earlier release (file storage at every
// replica count) keeps working as it is.
func keepStorage(ctx context.Context, s jetstream.Stream, cc jetstream.ConsumerConfig) jetstream.ConsumerConfig {
	if cons, err := s.Consumer(ctx, cc.Durable); err == nil {
		cc.MemoryStorage = cons.CachedInfo().Config.MemoryStorage
	}
	return cc
}

// PartitionResources are the handles of one partition.
type PartitionResources struct {
	Partition Partition
	Stream    jetstream.Stream
	// Consumers are the deliverers' consumers of its lanes, in lane order.
	Consumers []jetstream.Consumer
}

// ErrStrayStream is wrapped by CheckStored's error: a pending delivery was
// acknowledged by a stream that no deliverer reads (another stream of the
// account captures the deliver subjects).
var ErrStrayStream = errors.New("streams: stored on a stream no deliverer reads")

// CheckStored returns an error wrapping ErrStrayStream when the stream of
// ack is neither the unpartitioned deliver stream nor a partition stream.
// Publishers call it instead of expecting one stream by name, so that a
// publish lands on whichever of those the server's mapping chooses.
func (c Config) CheckStored(ack *jetstream.PubAck) error {
	if ack == nil || c.IsDeliverStream(ack.Stream) {
		return nil
	}
	return fmt.Errorf("%w: %s seq %d (want %s or %s_P<count>_<index>)", ErrStrayStream, ack.Stream, ack.Sequence, c.DeliverStream, c.DeliverStream)
}

// RetirePartitions deletes the partition streams of counts other than
// c.Partitions that hold no message any more (the last step of a change
// of the count, once the old streams have drained): deliver partitions,
// and attempt partitions, which empty once their records are older than
// AttemptsMaxAge (the log store has them long before). Streams still
// holding messages are kept and returned in busy with their message
// counts. The deliverers and log writers stop pulling from a removed
// stream by themselves.
func RetirePartitions(ctx context.Context, js jetstream.JetStream, c Config) (removed []string, busy map[string]uint64, err error) {
	c = c.WithDefaults()
	parts, err := DeliverPartitions(ctx, js, c)
	if err != nil {
		return nil, nil, err
	}
	attempts, err := AttemptStreams(ctx, js, c)
	if err != nil {
		return nil, nil, err
	}
	type candidate struct {
		stream   string
		subjects []string
	}
	var cands []candidate
	for _, p := range parts {
		if p.Of != 0 && p.Of != c.Partitions {
			cands = append(cands, candidate{p.Stream, c.PartitionStreamConfig(p.Of, p.Index).Subjects})
		}
	}
	for _, p := range attempts {
		if p.Of != 0 && p.Of != c.Partitions {
			cands = append(cands, candidate{p.Stream, c.attemptPartitionSubjects(p.Of, p.Index)})
		}
	}
	busy = map[string]uint64{}
	for _, cand := range cands {
		gone, msgs, err := retireStream(ctx, js, c, cand.stream, cand.subjects)
		if err != nil {
			return removed, busy, err
		}
		if gone {
			removed = append(removed, cand.stream)
		} else {
			busy[cand.stream] = msgs
		}
	}
	return removed, busy, nil
}

// retireStream deletes the stream name, whose subjects are subjects, if
// it holds no message; else it returns how many it holds.
func retireStream(ctx context.Context, js jetstream.JetStream, c Config, name string, subjects []string) (removed bool, msgs uint64, err error) {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return false, 0, fmt.Errorf("streams: open %s: %w", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return false, 0, fmt.Errorf("streams: read %s: %w", name, err)
	}
	if info.State.Msgs > 0 {
		return false, info.State.Msgs, nil
	}
	// Detach the subjects first, so that a publish through a server still
	// holding the old mapping (or from a process still on the old count)
	// fails (the publisher reports it) instead of landing on a stream
	// about to be deleted; then look again, and put the subjects back if
	// something arrived meanwhile.
	detached := info.Config
	detached.Subjects = []string{c.SubjectPrefix + ".retired." + name}
	if _, err := js.UpdateStream(ctx, detached); err != nil {
		return false, 0, fmt.Errorf("streams: detach the subjects of %s: %w", name, err)
	}
	if info, err = s.Info(ctx); err != nil {
		return false, 0, fmt.Errorf("streams: read %s: %w", name, err)
	}
	if info.State.Msgs > 0 {
		restored := info.Config
		restored.Subjects = subjects
		if _, err := js.UpdateStream(ctx, restored); err != nil {
			return false, info.State.Msgs, fmt.Errorf("streams: restore the subjects of %s (%d messages arrived while retiring it): %w", name, info.State.Msgs, err)
		}
		return false, info.State.Msgs, nil
	}
	if err := js.DeleteStream(ctx, name); err != nil {
		return false, 0, fmt.Errorf("streams: delete %s: %w", name, err)
	}
	return true, 0, nil
}

// PartitionLag is the deliverers' consumer state on one deliver
// partition, summed over its lanes.
type PartitionLag struct {
	Partition Partition
	// Pending counts the messages not yet delivered (NumPending).
	Pending uint64
	// AckPending counts the messages delivered and not yet acknowledged,
	// retries waiting out their delay included (NumAckPending).
	AckPending int
	// Redelivered counts the messages delivered more than once and not yet
	// acknowledged (NumRedelivered).
	Redelivered int
	// Waiting counts the pull requests waiting (NumWaiting).
	Waiting int
}

// DeliverLag reads the deliverers' consumers on every deliver partition
// that exists. The unpartitioned stream's consumer must be there; a lane
// consumer that is missing (its stream being made or removed) is left out,
// and so is a partition with none.
func DeliverLag(ctx context.Context, js jetstream.JetStream, c Config) ([]PartitionLag, error) {
	c = c.WithDefaults()
	parts, err := DeliverPartitions(ctx, js, c)
	if err != nil {
		return nil, err
	}
	out := make([]PartitionLag, 0, len(parts))
	for _, p := range parts {
		lag, found := PartitionLag{Partition: p}, 0
		for _, l := range c.LanesOf(p) {
			cons, err := js.Consumer(ctx, p.Stream, l.Consumer)
			var ci *jetstream.ConsumerInfo
			if err == nil {
				ci, err = cons.Info(ctx)
			}
			switch {
			case err == nil:
				found++
				lag.Pending += ci.NumPending
				lag.AckPending += ci.NumAckPending
				lag.Redelivered += ci.NumRedelivered
				lag.Waiting += ci.NumWaiting
			case p.Of != 0 && (errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound)):
			default:
				return nil, fmt.Errorf("streams: consumer %s on %s: %w", l.Consumer, p.Stream, err)
			}
		}
		if found > 0 {
			out = append(out, lag)
		}
	}
	return out, nil
}
