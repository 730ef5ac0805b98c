package streams_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/embedded"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// The server's mapping stores each organization's events on the partition
// stream that PartitionOf names, under a subject ParseDeliverSubject reads
// back and the consumer of the lane LaneOf names takes; the organizations
// spread over every partition and lane.
func TestMappingStoresEachOrganizationOnItsPartition(t *testing.T) {
	sc := streams.Config{Partitions: 3}.WithDefaults()
	s := jstest.ServerWith(t, embedded.Config{Mappings: sc.Mappings()})
	_, js := jstest.Connect(t, s)
	ctx := jstest.Context(t, 20*time.Second)
	res, err := streams.Ensure(ctx, js, sc)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Partitions) != 3 {
		t.Fatalf("Ensure made %d partitions, want 3", len(res.Partitions))
	}
	perStream, perLane := map[string]int{}, map[string]int{}
	for i := range 60 {
		org := fmt.Sprintf("org_%d", i)
		ack, err := js.Publish(ctx, sc.DeliverSubject(org, envelope.SourceJob), []byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		want := sc.PartitionStream(3, sc.PartitionOf(org))
		if ack.Stream != want || !sc.IsDeliverStream(ack.Stream) {
			t.Fatalf("%s stored on %s, want %s", org, ack.Stream, want)
		}
		perStream[ack.Stream]++
		perLane[fmt.Sprintf("%s/%d", ack.Stream, sc.LaneOf(org))]++
		stream, err := js.Stream(ctx, ack.Stream)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := stream.GetMsg(ctx, ack.Sequence)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Subject != sc.PartitionSubject(3, org, envelope.SourceJob) {
			t.Fatalf("stored subject %q, want %q", msg.Subject, sc.PartitionSubject(3, org, envelope.SourceJob))
		}
		if gotOrg, src, ok := sc.ParseDeliverSubject(msg.Subject); !ok || gotOrg != org || src != envelope.SourceJob {
			t.Fatalf("ParseDeliverSubject(%q) = %q, %q, %v", msg.Subject, gotOrg, src, ok)
		}
	}
	lanesUsed := 0
	for _, p := range res.Partitions {
		if perStream[p.Partition.Stream] < 10 {
			t.Errorf("partition %s got %d of 60 organizations: %v", p.Partition.Label(), perStream[p.Partition.Stream], perStream)
		}
		if len(p.Consumers) != streams.Lanes {
			t.Fatalf("partition %s has %d lane consumers, want %d", p.Partition.Label(), len(p.Consumers), streams.Lanes)
		}
		for i, cons := range p.Consumers {
			info, err := cons.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := perLane[fmt.Sprintf("%s/%d", p.Partition.Stream, i)]
			if int(info.NumPending) != want {
				t.Errorf("lane %d of %s: %d pending, want %d", i, p.Partition.Label(), info.NumPending, want)
			}
			if want > 0 {
				lanesUsed++
			}
		}
	}
	if lanesUsed < 12 {
		t.Errorf("60 organizations use %d of %d lanes: %v", lanesUsed, 3*streams.Lanes, perLane)
	}
	parts, err := streams.DeliverPartitions(ctx, js, sc)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range parts {
		names = append(names, p.Stream+"="+p.Label())
	}
	if got := strings.Join(names, " "); got != "WEBHOOKS=none WEBHOOKS_P3_0=0/3 WEBHOOKS_P3_1=1/3 WEBHOOKS_P3_2=2/3 WEBHOOKS_OVERFLOW=overflow" {
		t.Errorf("DeliverPartitions = %s", got)
	}
}

// Without the mapping (a server not configured yet), a publish is still
// stored, on the unpartitioned stream that every deliverer reads.
func TestWithoutMappingEventsStayOnTheUnpartitionedStream(t *testing.T) {
	sc := streams.Config{Partitions: 3}.WithDefaults()
	_, js := jstest.Connect(t, jstest.Server(t))
	ctx := jstest.Context(t, 20*time.Second)
	if _, err := streams.Ensure(ctx, js, sc); err != nil {
		t.Fatal(err)
	}
	ack, err := js.Publish(ctx, sc.DeliverSubject("org_1", envelope.SourceJob), []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if ack.Stream != streams.DefaultDeliverStream {
		t.Errorf("stored on %s, want %s", ack.Stream, streams.DefaultDeliverStream)
	}
}

func TestParseDeliverSubject(t *testing.T) {
	sc := streams.Config{Partitions: 3}.WithDefaults()
	good := sc.PartitionSubject(3, "org_7", envelope.SourceWorkflow)
	key := strings.Split(good, ".")[4]
	keyN := sc.PartitionOf("org_7") + 3*sc.LaneOf("org_7")
	if key != fmt.Sprint(keyN) {
		t.Fatalf("lane key of %s is %s, want %d", good, key, keyN)
	}
	tests := []struct {
		subject string
		org     string
		ok      bool
	}{
		{"webhooks.deliver.org_1.job", "org_1", true},
		{good, "org_7", true},
		{sc.PartitionSubject(5, "org_7", envelope.SourceJob), "org_7", true}, // another count, while it drains
		{strings.Replace(good, ".org_7", "", 1), "", false},                  // no organization
		{"webhooks.partition.3.9.9.org_7.job", "", false},                    // index out of range
		{"webhooks.partition.3." + fmt.Sprint((sc.PartitionOf("org_7")+1)%3) + "." + key + ".org_7.job", "", false},
		{"webhooks.partition.3." + fmt.Sprint(sc.PartitionOf("org_7")) + "." + fmt.Sprint(keyN+3) + ".org_7.job", "", false}, // another lane
		{"webhooks.partition.03." + fmt.Sprint(sc.PartitionOf("org_7")) + "." + key + ".org_7.job", "", false},
		{"webhooks.partition.1.0.0.org_7.job", "", false},
		{"webhooks.waiting.org_1.job", "", false},
		{"other.deliver.org_1.job", "", false},
		{"webhooks.deliver.org_1", "", false},
	}
	for _, tt := range tests {
		org, _, ok := sc.ParseDeliverSubject(tt.subject)
		if ok != tt.ok || org != tt.org {
			t.Errorf("ParseDeliverSubject(%q) = %q, %v; want %q, %v", tt.subject, org, ok, tt.org, tt.ok)
		}
	}
	for name, want := range map[string]bool{"WEBHOOKS": true, "WEBHOOKS_P3_2": true, "WEBHOOKS_P3_3": false, "WEBHOOKS_P1_0": false, "WEBHOOKS_UNDELIVERED": false, "WEBHOOKS_P03_1": false} {
		if got := sc.IsDeliverStream(name); got != want {
			t.Errorf("IsDeliverStream(%q) = %v, want %v", name, got, want)
		}
	}
}

// PartitionOf is the server's partition(): FNV-1a of the token modulo the
// count, pinned by the server's own tests (partition(10) of foo is 3, baz
// 0, qux 9).
func TestPartitionOfMatchesTheServer(t *testing.T) {
	sc := streams.Config{Partitions: 10}.WithDefaults()
	for org, want := range map[string]int{"foo": 3, "baz": 0, "qux": 9} {
		if got := sc.PartitionOf(org); got != want {
			t.Errorf("PartitionOf(%q) = %d, want %d", org, got, want)
		}
	}
	if got := (streams.Config{}).WithDefaults().PartitionOf("foo"); got != 0 {
		t.Errorf("unpartitioned PartitionOf = %d, want 0", got)
	}
}

func TestMappingConfig(t *testing.T) {
	got := streams.Config{Partitions: 3}.WithDefaults().MappingConfig()
	want := `mappings {
  "webhooks.deliver.*.*": "webhooks.partition.3.{{partition(3,1)}}.{{partition(24,1)}}.{{wildcard(1)}}.{{wildcard(2)}}"
}
`
	if got != want {
		t.Errorf("MappingConfig =\n%s\nwant\n%s", got, want)
	}
	if m := (streams.Config{}).WithDefaults().MappingConfig(); m != "" {
		t.Errorf("unpartitioned MappingConfig = %q, want none", m)
	}
}

// Lane consumers keep their state in memory only when it is replicated,
// and Ensure keeps the storage of a lane consumer that already exists (the
// server cannot change it) instead of failing.
func TestLaneConsumerStorage(t *testing.T) {
	one := streams.Config{Partitions: 2}.WithDefaults()
	three := streams.Config{Partitions: 2, Replicas: 3}.WithDefaults()
	lane := one.LanesOf(one.ConfiguredPartitions()[1])[0]
	if one.LaneConsumerConfig(lane).MemoryStorage {
		t.Error("a lane consumer of one replica keeps its state in memory: a restart would lose it")
	}
	if !three.LaneConsumerConfig(lane).MemoryStorage {
		t.Error("a lane consumer of three replicas keeps its state in files")
	}

	s := jstest.ServerWith(t, embedded.Config{Mappings: one.Mappings()})
	_, js := jstest.Connect(t, s)
	ctx := jstest.Context(t, 20*time.Second)
	if _, err := streams.Ensure(ctx, js, one); err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, lane.Partition.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.DeleteConsumer(ctx, lane.Consumer); err != nil {
		t.Fatal(err)
	}
	memory := one.LaneConsumerConfig(lane)
	memory.MemoryStorage = true
	if _, err := stream.CreateConsumer(ctx, memory); err != nil {
		t.Fatal(err)
	}
	if _, err := streams.Ensure(ctx, js, one); err != nil {
		t.Fatalf("Ensure over a lane consumer of the other storage: %v", err)
	}
	cons, err := stream.Consumer(ctx, lane.Consumer)
	if err != nil {
		t.Fatal(err)
	}
	if !cons.CachedInfo().Config.MemoryStorage {
		t.Error("Ensure changed the existing consumer's storage")
	}
}
