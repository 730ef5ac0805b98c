package streams_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// attemptOf is a record of one attempt of an event of orgID.
func attemptOf(orgID, eventID string) *envelope.AttemptRecord {
	now := time.Now().UTC()
	return &envelope.AttemptRecord{V: 1, EventID: eventID, OrgID: orgID, Source: envelope.SourceJob, EventType: "job.completed",
		Attempt: 1, QueuedAt: now, StartedAt: now, FinishedAt: now, State: envelope.StateDelivered, Final: true, StatusCode: 200}
}

// With several partitions, an organization's attempt records are stored
// on the attempt stream of its partition (no server mapping needed), which
// AttemptStreams lists and AttemptFilterIn reads; an unpartitioned config
// keeps writing WEBHOOKS_ATTEMPTS. Retiring a count removes its attempt
// streams once they are empty and keeps those still holding records.
func TestAttemptRecordsFollowThePartitions(t *testing.T) {
	_, js := jstest.Connect(t, jstest.Server(t))
	ctx := jstest.Context(t, 20*time.Second)
	sc := streams.Config{Partitions: 3}.WithDefaults()
	res, err := streams.Ensure(ctx, js, sc)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.AttemptPartitions) != 3 {
		t.Fatalf("Ensure made %d attempt partitions, want 3", len(res.AttemptPartitions))
	}
	for _, p := range res.AttemptPartitions {
		if len(p.Consumers) != 1 || p.Consumers[0].CachedInfo().Name != sc.LogConsumer {
			t.Fatalf("attempt partition %s: consumers %v, want the log consumer", p.Partition.Stream, p.Consumers)
		}
	}
	perStream := map[string]int{}
	for i := range 30 {
		org := fmt.Sprintf("org_%d", i)
		msg, err := sc.AttemptMsg(attemptOf(org, fmt.Sprintf("ev-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		ack, err := js.PublishMsg(ctx, msg)
		if err != nil {
			t.Fatal(err)
		}
		if want := sc.AttemptPartitionStream(3, sc.PartitionOf(org)); ack.Stream != want {
			t.Fatalf("record of %s stored on %s, want %s", org, ack.Stream, want)
		}
		perStream[ack.Stream]++
		p := streams.Partition{Stream: ack.Stream, Of: 3, Index: sc.PartitionOf(org)}
		filter, ok := sc.AttemptFilterIn(p, org, "")
		if !ok || !server.SubjectMatchesFilter(msg.Subject, filter) {
			t.Fatalf("AttemptFilterIn(%s, %s) = %q, %v; the record is on %q", p.Stream, org, filter, ok, msg.Subject)
		}
		other := streams.Partition{Stream: sc.AttemptPartitionStream(3, (p.Index+1)%3), Of: 3, Index: (p.Index + 1) % 3}
		if _, ok := sc.AttemptFilterIn(other, org, ""); ok {
			t.Fatalf("AttemptFilterIn(%s, %s) is ok; %s hashes to %d", other.Stream, org, org, p.Index)
		}
	}
	if len(perStream) != 3 {
		t.Fatalf("30 organizations' records on %v, want 3 streams", perStream)
	}
	one := streams.Config{}.WithDefaults()
	msg, err := one.AttemptMsg(attemptOf("org_1", "ev-unpartitioned"))
	if err != nil {
		t.Fatal(err)
	}
	if ack, err := js.PublishMsg(ctx, msg); err != nil || ack.Stream != streams.DefaultAttemptsStream {
		t.Fatalf("unpartitioned record: %v, %v; want it on %s", ack, err, streams.DefaultAttemptsStream)
	}

	// A change to 2 partitions: the streams of 3 hold records, the empty
	// ones of 2 are kept as configured.
	two := streams.Config{Partitions: 2}.WithDefaults()
	if _, err := streams.Ensure(ctx, js, two); err != nil {
		t.Fatal(err)
	}
	parts, err := streams.AttemptStreams(ctx, js, two)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range parts {
		names = append(names, p.Stream+"="+p.Label())
	}
	want := "WEBHOOKS_ATTEMPTS=none WEBHOOKS_ATTEMPTS_P2_0=0/2 WEBHOOKS_ATTEMPTS_P2_1=1/2 " +
		"WEBHOOKS_ATTEMPTS_P3_0=0/3 WEBHOOKS_ATTEMPTS_P3_1=1/3 WEBHOOKS_ATTEMPTS_P3_2=2/3"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("AttemptStreams = %s, want %s", got, want)
	}
	removed, busy, err := streams.RetirePartitions(ctx, js, two)
	if err != nil {
		t.Fatal(err)
	}
	for k := range 3 {
		name := sc.AttemptPartitionStream(3, k)
		if slices.Contains(removed, name) || busy[name] != uint64(perStream[name]) {
			t.Errorf("RetirePartitions removed %v, busy %v: want %s kept with %d records", removed, busy, name, perStream[name])
		}
	}
	// Emptied (their records aged out, here purged), they are retired.
	for k := range 3 {
		s, err := js.Stream(ctx, sc.AttemptPartitionStream(3, k))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Purge(ctx); err != nil {
			t.Fatal(err)
		}
	}
	removed, busy, err = streams.RetirePartitions(ctx, js, two)
	if err != nil || len(busy) != 0 {
		t.Fatalf("RetirePartitions after the purge = %v, busy %v, %v", removed, busy, err)
	}
	for k := range 3 {
		if name := sc.AttemptPartitionStream(3, k); !slices.Contains(removed, name) {
			t.Errorf("RetirePartitions removed %v, want %s", removed, name)
		}
	}
	if parts, err = streams.AttemptStreams(ctx, js, two); err != nil || len(parts) != 3 {
		t.Errorf("AttemptStreams after retiring = %v, %v; want WEBHOOKS_ATTEMPTS and the 2 of 2", parts, err)
	}
}
