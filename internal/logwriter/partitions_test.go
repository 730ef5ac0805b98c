package logwriter_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/storetest"
	"github.com/sixtyfour-oss/webhooks/internal/logwriter"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// orgsOfEachPartition returns one organization id per partition of sc,
// in partition order.
func orgsOfEachPartition(t *testing.T, sc streams.Config) []string {
	t.Helper()
	orgs := make([]string, sc.Partitions)
	for i, found := 0, 0; found < sc.Partitions; i++ {
		if i > 10000 {
			t.Fatalf("no organization id hashes to every one of %d partitions", sc.Partitions)
		}
		org := fmt.Sprintf("org_%d", i)
		if k := sc.PartitionOf(org); orgs[k] == "" {
			orgs[k] = org
			found++
		}
	}
	return orgs
}

// recordsOf returns n records of each of orgs, their event ids starting
// with prefix.
func recordsOf(orgs []string, prefix string, n int) []*envelope.AttemptRecord {
	now := time.Now()
	var out []*envelope.AttemptRecord
	for _, org := range orgs {
		for i := range n {
			out = append(out, storetest.Record(org, fmt.Sprintf("%s-%s-%d", prefix, org, i), now))
		}
	}
	return out
}

// streamMsgs returns how many messages the stream holds.
func streamMsgs(t *testing.T, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	s, err := js.Stream(jstest.Context(t, 10*time.Second), stream)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State.Msgs
}

// waitNothingPending waits until the log writers' consumer on each of
// the streams has nothing pending nor unacknowledged.
func waitNothingPending(t *testing.T, js jetstream.JetStream, sc streams.Config, names []string) {
	t.Helper()
	ctx := jstest.Context(t, 30*time.Second)
	for _, name := range names {
		cons, err := js.Consumer(ctx, name, sc.LogConsumer)
		if err != nil {
			t.Fatalf("consumer %s on %s: %v", sc.LogConsumer, name, err)
		}
		var last error
		jstest.Eventually(t, 20*time.Second, func() bool {
			ci, err := cons.Info(ctx)
			if err != nil {
				last = err
				return false
			}
			last = fmt.Errorf("%d pending, %d unacknowledged", ci.NumPending, ci.NumAckPending)
			return ci.NumPending == 0 && ci.NumAckPending == 0
		}, "nothing pending on %s's log consumer (last: %v)", name, &lastErr{&last})
	}
}

// Records of every attempt partition, and of WEBHOOKS_ATTEMPTS, are all
// stored by one writer, each exactly once, and acked on their own stream.
func TestEveryPartitionIsStored(t *testing.T) {
	store, path := sqliteStore(t)
	_, js, _ := jstest.Pipeline(t, streams.Config{Partitions: 3})
	sc3 := streams.Config{Partitions: 3}.WithDefaults()
	sc1 := streams.Config{Partitions: 1}.WithDefaults()
	orgs := orgsOfEachPartition(t, sc3)
	parted := recordsOf(orgs, "p3", 40)
	flat := recordsOf(orgs, "p1", 10)
	cfg := fastWriter(sc3)
	cfg.Batch = 25 // several batches, mixing streams
	w, _ := startWriter(t, js, store, cfg)
	publishRecords(t, js, sc3, parted)
	publishRecords(t, js, sc1, flat)

	names := make([]string, 0, 4)
	for _, p := range sc3.ConfiguredAttemptStreams() {
		names = append(names, p.Stream)
	}
	for i, name := range names {
		want := uint64(40)
		if i == 0 {
			want = uint64(len(flat))
		}
		if got := streamMsgs(t, js, name); got != want {
			t.Errorf("%s holds %d records, want %d", name, got, want)
		}
	}
	all := append(append([]*envelope.AttemptRecord{}, parted...), flat...)
	jstest.Eventually(t, 30*time.Second, func() bool { return countRows(t, path) == len(all) }, "%d rows", len(all))
	assertOneRowPerRecord(t, path, all)
	waitNothingPending(t, js, sc3, names)
	st := w.Status()
	if st.Written != uint64(len(all)) || st.Pending != 0 || !st.Consuming {
		t.Errorf("status = %+v; want %d written, 0 pending, consuming", st, len(all))
	}
}

// A writer running with 3 partitions finds the attempt streams of a new
// count (2) once they are made, and stores their records.
func TestNewAttemptStreamIsFound(t *testing.T) {
	store, path := sqliteStore(t)
	_, js, _ := jstest.Pipeline(t, streams.Config{Partitions: 3})
	sc3 := streams.Config{Partitions: 3}.WithDefaults()
	var logs jstest.LogBuffer
	log := zerolog.New(&logs)
	cfg := fastWriter(sc3)
	cfg.DiscoverEvery, cfg.Logger = 50*time.Millisecond, &log
	startWriter(t, js, store, cfg)

	sc2 := streams.Config{Partitions: 2}.WithDefaults()
	if _, err := streams.Ensure(jstest.Context(t, 30*time.Second), js, sc2); err != nil {
		t.Fatal(err)
	}
	recs := recordsOf(orgsOfEachPartition(t, sc2), "p2", 30)
	publishRecords(t, js, sc2, recs)
	for _, p := range sc2.ConfiguredAttemptStreams()[1:] {
		if got := streamMsgs(t, js, p.Stream); got != 30 {
			t.Errorf("%s holds %d records, want 30", p.Stream, got)
		}
	}
	jstest.Eventually(t, 30*time.Second, func() bool { return countRows(t, path) == len(recs) }, "%d rows", len(recs))
	assertOneRowPerRecord(t, path, recs)
	for _, p := range sc2.ConfiguredAttemptStreams()[1:] {
		if !logs.Contains(`"stream":"` + p.Stream + `"`) {
			t.Errorf("no log line names %s: %s", p.Stream, logs.String())
		}
	}
	if !logs.Contains("pulling from a new attempt stream") {
		t.Errorf("no log line of a new stream: %s", logs.String())
	}
}

// An attempt stream without the log writers' consumer (left from another
// count, or made by hand) gets one, whether it exists when the writer
// starts or appears later; a stream removed while pulled from is let go
// (logged once) and found again when it is made again.
func TestAttemptStreamWithoutConsumerAndRemoved(t *testing.T) {
	store, path := sqliteStore(t)
	_, js, _ := jstest.Pipeline(t, streams.Config{})
	sc := streams.Config{}.WithDefaults()
	ctx := jstest.Context(t, 60*time.Second)
	sc4 := streams.Config{Partitions: 4}.WithDefaults()
	if _, err := js.CreateStream(ctx, sc4.AttemptPartitionStreamConfig(4, 1)); err != nil { // no consumer
		t.Fatal(err)
	}
	org4 := orgsOfEachPartition(t, sc4)[1]
	before := recordsOf([]string{org4}, "before", 20)
	publishRecords(t, js, sc4, before)

	var logs jstest.LogBuffer
	log := zerolog.New(&logs)
	cfg := fastWriter(sc)
	cfg.DiscoverEvery, cfg.Logger = 50*time.Millisecond, &log
	w, _ := startWriter(t, js, store, cfg)
	jstest.Eventually(t, 30*time.Second, func() bool { return countRows(t, path) == len(before) }, "%d rows", len(before))

	sc5 := streams.Config{Partitions: 5}.WithDefaults()
	if _, err := js.CreateStream(ctx, sc5.AttemptPartitionStreamConfig(5, 2)); err != nil { // made while running, no consumer
		t.Fatal(err)
	}
	later := recordsOf([]string{orgsOfEachPartition(t, sc5)[2]}, "later", 20)
	publishRecords(t, js, sc5, later)
	stored := len(before) + len(later)
	jstest.Eventually(t, 30*time.Second, func() bool { return countRows(t, path) == stored }, "%d rows", stored)

	gone := sc4.AttemptPartitionStream(4, 1)
	if err := js.DeleteStream(ctx, gone); err != nil {
		t.Fatal(err)
	}
	jstest.Eventually(t, 30*time.Second, func() bool { return logs.Contains("no longer pulling from it") },
		"the writer lets the removed stream go")
	if err := w.Ready(); err != nil {
		t.Errorf("Ready after a partition was removed: %v", err)
	}
	flat := recordsOf([]string{"org_flat"}, "flat", 5) // WEBHOOKS_ATTEMPTS is still drained
	publishRecords(t, js, sc, flat)
	stored += len(flat)
	jstest.Eventually(t, 30*time.Second, func() bool { return countRows(t, path) == stored }, "%d rows", stored)

	if _, err := js.CreateStream(ctx, sc4.AttemptPartitionStreamConfig(4, 1)); err != nil { // back again
		t.Fatal(err)
	}
	again := recordsOf([]string{org4}, "again", 20)
	publishRecords(t, js, sc4, again)
	stored += len(again)
	jstest.Eventually(t, 30*time.Second, func() bool { return countRows(t, path) == stored }, "%d rows", stored)
	assertOneRowPerRecord(t, path, append(append(append(append([]*envelope.AttemptRecord{}, before...), later...), flat...), again...))
	waitNothingPending(t, js, sc, []string{sc.AttemptsStream, gone, sc5.AttemptPartitionStream(5, 2)})
}

// DiscoverEvery must be positive.
func TestDiscoverEveryIsValidated(t *testing.T) {
	_, js, _ := jstest.Pipeline(t, streams.Config{})
	store, _ := sqliteStore(t)
	cfg := fastWriter(streams.Config{})
	cfg.DiscoverEvery = -time.Second
	_, err := logwriter.New(t.Context(), js, store, cfg)
	if !errors.Is(err, logwriter.ErrInvalidConfig) || !strings.Contains(err.Error(), "DiscoverEvery") {
		t.Errorf("New with DiscoverEvery < 0 = %v; want ErrInvalidConfig naming DiscoverEvery", err)
	}
}
