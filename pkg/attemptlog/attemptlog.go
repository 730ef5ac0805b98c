// Package attemptlog reads the attempt records of one event from the
// attempt stream (WEBHOOKS_ATTEMPTS), the short buffer the deliverers
// write and the log writer drains. It serves what must not wait for the
// log writer: a workflow engine waiting for a run's block columns
// (pkg/runresult), the quickstart, and tests. The delivery log
// (internal/logstore, written by cmd/logwriter) is the record; the stream keeps
// STREAMS_ATTEMPTS_MAX_AGE (24 h by default).
//
// Records are kept on one subject per organization and source, never per
// event (on WEBHOOKS_ATTEMPTS, or on the organization's attempt partition
// when the deliveries are partitioned), so reading one event scans its organization's records: from the
// event id's creation time (event ids are UUID version 7) when it has one,
// else from the start of the buffer. Records of other events are skipped
// by their Sixtyfour-Event-Id header, without decoding.
//
// This package only reads; it never changes a stream.
package attemptlog

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// startSlack is how long before an event id's creation time a scan starts:
// the clocks of the publisher and the server may differ by that much.
const startSlack = time.Minute

// inactiveThreshold is how long the server keeps the consumer of a scan
// whose process died without removing it.
const inactiveThreshold = time.Minute

// Event names an event and where its records are.
type Event struct {
	OrgID string
	// Source narrows the scan to one source; "" scans both.
	Source  envelope.Source
	EventID string
}

// Read returns every record of the event on the attempt streams, in the
// order they were stored (nil when there is none). A record of the event
// that does not decode is an error wrapping envelope.ErrMalformed.
func Read(ctx context.Context, js jetstream.JetStream, sc streams.Config, ev Event) ([]*envelope.AttemptRecord, error) {
	var found []stored
	err := scan(ctx, js, sc, ev, false, func(r stored) bool {
		found = append(found, r)
		return false
	})
	if err != nil || len(found) == 0 {
		return nil, err
	}
	// Records come stream by stream; after a change of the partition count
	// an event's records may be on two streams.
	sort.SliceStable(found, func(i, j int) bool { return found[i].at.Before(found[j].at) })
	recs := make([]*envelope.AttemptRecord, len(found))
	for i, r := range found {
		recs[i] = r.rec
	}
	return recs, nil
}

// stored is a record and when its stream stored it.
type stored struct {
	rec *envelope.AttemptRecord
	at  time.Time
}

// Watch calls fn with each record of the event, the stored ones first, then
// each new one as it is stored, until fn returns true (Watch returns nil)
// or ctx ends (Watch returns ctx.Err()).
func Watch(ctx context.Context, js jetstream.JetStream, sc streams.Config, ev Event, fn func(*envelope.AttemptRecord) bool) error {
	return scan(ctx, js, sc, ev, true, func(r stored) bool { return fn(r.rec) })
}

// scan reads the event's records from every attempt stream that may hold
// them (WEBHOOKS_ATTEMPTS, and the organization's attempt partition of
// every partition count that exists), one after the other. With follow it
// then goes on watching the stream sc writes the organization's records to
// (its attempt partition when sc is partitioned), which it reads last: a
// Watch spanning a change of the partition count sees the records stored
// under the other count when it starts, and the new ones under its own.
func scan(ctx context.Context, js jetstream.JetStream, sc streams.Config, ev Event, follow bool, fn func(stored) bool) error {
	sc = sc.WithDefaults()
	parts, err := streams.AttemptStreams(ctx, js, sc)
	if err != nil {
		return fmt.Errorf("attemptlog: %w", err)
	}
	followed := sc.ConfiguredAttemptStreams()[0]
	if sc.Partitioned() {
		followed = sc.ConfiguredAttemptStreams()[1+sc.PartitionOf(ev.OrgID)]
	}
	done := false
	for _, p := range parts {
		if follow && p.Stream == followed.Stream {
			continue
		}
		err := scanStream(ctx, js, sc, p, ev, false, func(r stored) bool {
			done = fn(r)
			return done
		})
		if err != nil || done {
			return err
		}
	}
	if follow {
		return scanStream(ctx, js, sc, followed, ev, true, fn)
	}
	return nil
}

// scanStream reads the event's records on the attempt stream p with an
// ordered consumer; without follow it stops at the end of the stream.
func scanStream(ctx context.Context, js jetstream.JetStream, sc streams.Config, p streams.Partition, ev Event, follow bool, fn func(stored) bool) error {
	filter, ok := sc.AttemptFilterIn(p, ev.OrgID, ev.Source)
	if !ok {
		return nil
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{filter},
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: inactiveThreshold,
	}
	if id, err := uuid.Parse(ev.EventID); err == nil && id.Version() == 7 {
		sec, nsec := id.Time().UnixTime()
		start := time.Unix(sec, nsec).Add(-startSlack)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	cons, err := js.OrderedConsumer(ctx, p.Stream, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("attemptlog: read %s: %w", p.Stream, err)
	}
	defer remove(ctx, js, p.Stream, cons)
	if info := cons.CachedInfo(); !follow && info != nil && info.NumPending == 0 {
		return nil
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("attemptlog: read %s: %w", p.Stream, err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("attemptlog: read %s: %w", p.Stream, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("attemptlog: read %s: message metadata: %w", p.Stream, err)
		}
		if msg.Headers().Get(envelope.HeaderRecordEventID) == ev.EventID {
			r, err := envelope.DecodeAttemptRecord(msg.Data())
			if err != nil {
				return fmt.Errorf("attemptlog: %s: %w", ev.EventID, err)
			}
			if r.EventID == ev.EventID && fn(stored{rec: r, at: meta.Timestamp}) {
				return nil
			}
		}
		if !follow && meta.NumPending == 0 {
			return nil
		}
	}
}

// remove deletes the scan's consumer at once (Stop alone would leave it
// for inactiveThreshold), within a second, even when ctx has ended.
func remove(ctx context.Context, js jetstream.JetStream, stream string, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := js.DeleteConsumer(dctx, stream, info.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return // the server removes it after inactiveThreshold
	}
}

// Latest returns the event's current state folded from its records
// (envelope.OutcomeOf), or nil when the stream holds none.
func Latest(ctx context.Context, js jetstream.JetStream, sc streams.Config, ev Event) (*envelope.Outcome, error) {
	recs, err := Read(ctx, js, sc, ev)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	return envelope.OutcomeOf(recs), nil
}

// AwaitFinal waits for the event's first final record and returns the
// event's state folded from its records up to it.
func AwaitFinal(ctx context.Context, js jetstream.JetStream, sc streams.Config, ev Event) (*envelope.Outcome, error) {
	var recs []*envelope.AttemptRecord
	err := Watch(ctx, js, sc, ev, func(r *envelope.AttemptRecord) bool {
		recs = append(recs, r)
		return r.Final
	})
	if err != nil {
		return nil, err
	}
	return envelope.OutcomeOf(recs), nil
}
