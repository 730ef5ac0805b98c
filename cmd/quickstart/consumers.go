package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// The quickstart's own durable consumers. The streams are the pipeline's,
// shared by every process on a server; the consumers are not. WEBHOOKS is a
// work queue: it hands each event to one consumer, and JetStream refuses a
// second consumer whose subjects overlap. With names of its own, the
// quickstart's deliverer never shares a consumer with a process it did not
// start, and a deliverer started against the quickstart's server fails at
// start-up instead of taking (and failing) the quickstart's events.
const (
	ownConsumer       = "quickstart-deliverer"
	ownWaiterConsumer = "quickstart-link-waiter"
	ownLogConsumer    = "quickstart-log-writer"
)

// ownStreams returns sc with the quickstart's consumer names.
func ownStreams(sc streams.Config) streams.Config {
	sc.Consumer, sc.WaiterConsumer, sc.LogConsumer = ownConsumer, ownWaiterConsumer, ownLogConsumer
	return sc.WithDefaults()
}

// errForeignConsumers means the deliver stream has consumers the quickstart
// did not create; see foreignConsumersError.
var errForeignConsumers = errors.New("the deliver stream has consumers that the quickstart did not create")

// foreignConsumersError names the consumers on the deliver stream that are
// not the quickstart's: a deliverer's (after quickstart -broker, or on a
// server other processes use), or an older quickstart's.
type foreignConsumersError struct {
	stream    string
	consumers []string
	where     string // the server, and its data directory when embedded
	embedded  bool   // the quickstart's own embedded server
}

// Error says what was found, why the quickstart stops, and what to do.
func (e *foreignConsumersError) Error() string {
	what := "consumer " + e.consumers[0] + ", which this quickstart did not create"
	if len(e.consumers) > 1 {
		what = "consumers " + strings.Join(e.consumers, ", ") + ", which this quickstart did not create"
	}
	return fmt.Sprintf("%s: stream %s already has %s "+
		"(a deliverer's, as after \"quickstart -broker\", or an older quickstart's). "+
		"The quickstart runs its own deliverer, and a work-queue stream hands each event to one consumer only, "+
		"so it stops here and changes nothing: %s",
		e.where, e.stream, what, e.remedy())
}

// remedy says how to run the quickstart on a stream of its own.
func (e *foreignConsumersError) remedy() string {
	if e.embedded {
		return "run it with a data directory of its own (-data ./data-demo), or delete that directory if nothing in it is needed"
	}
	return "unset NATS_URL to run it on an embedded server of its own"
}

// Unwrap returns errForeignConsumers.
func (e *foreignConsumersError) Unwrap() error { return errForeignConsumers }

// checkConsumers returns a *foreignConsumersError when the deliver stream
// of sc has a consumer that is not the quickstart's. A stream that does
// not exist yet has none. where names the server (embedded: the
// quickstart's own) for the error.
func checkConsumers(ctx context.Context, js jetstream.JetStream, sc streams.Config, where string, embedded bool) error {
	names, err := consumerNames(ctx, js, sc.DeliverStream)
	if err != nil {
		return err
	}
	var foreign []string
	for _, name := range names {
		if name != sc.Consumer && name != sc.WaiterConsumer {
			foreign = append(foreign, fmt.Sprintf("%q", name))
		}
	}
	if len(foreign) > 0 {
		return &foreignConsumersError{stream: sc.DeliverStream, consumers: foreign, where: where, embedded: embedded}
	}
	return nil
}

// removeOwnConsumers deletes the consumers that a full quickstart left in
// the streams of sc, so that the default ones can be created next to
// nothing (the broker-only mode). The events they had not delivered stay
// on WEBHOOKS (and WEBHOOKS_OVERFLOW) for the next consumer. It returns the names it removed.
func removeOwnConsumers(ctx context.Context, js jetstream.JetStream, sc streams.Config) ([]string, error) {
	own := ownStreams(sc)
	var overflow []string
	for _, l := range own.LanesOf(own.OverflowPartition()) {
		overflow = append(overflow, l.Consumer)
	}
	var removed []string
	for stream, mine := range map[string][]string{
		own.DeliverStream:    {own.Consumer, own.WaiterConsumer},
		own.AttemptsStream:   {own.LogConsumer},
		own.OverflowStream(): overflow,
	} {
		names, err := consumerNames(ctx, js, stream)
		if err != nil {
			return removed, err
		}
		for _, name := range names {
			if !slices.Contains(mine, name) {
				continue
			}
			if err := js.DeleteConsumer(ctx, stream, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
				return removed, fmt.Errorf("remove the quickstart's consumer %s on %s: %w", name, stream, err)
			}
			removed = append(removed, name)
		}
	}
	slices.Sort(removed)
	return removed, nil
}

// consumerNames lists the consumers of stream; none when it does not exist.
func consumerNames(ctx context.Context, js jetstream.JetStream, stream string) ([]string, error) {
	s, err := js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	lister := s.ConsumerNames(ctx)
	var names []string
	for name := range lister.Name() {
		names = append(names, name)
	}
	if err := lister.Err(); err != nil {
		return nil, fmt.Errorf("list the consumers of %s: %w", stream, err)
	}
	return names, nil
}
