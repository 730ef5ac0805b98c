package status

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// lookup holds what one Lookup reads. A stream that does not exist yet is
// nil: it holds nothing.
type lookup struct {
	sc          streams.Config
	store       logstore.Store
	undelivered jetstream.Stream
	js          jetstream.JetStream
}

func newLookup(ctx context.Context, store logstore.Store, js jetstream.JetStream, sc streams.Config) (*lookup, error) {
	l := &lookup{sc: sc, store: store, js: js}
	var err error
	if l.undelivered, err = openStream(ctx, js, sc.UndeliveredStream); err != nil {
		return nil, err
	}
	return l, nil
}

// openStream returns the stream name, or nil when it does not exist.
func openStream(ctx context.Context, js jetstream.JetStream, name string) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("status: open stream %s: %w", name, err)
	}
	return s, nil
}

// find reads the latest round of each matching event from the delivery
// log. An event id the log does not know (its record is not written yet,
// or it predates the log) that is in the undelivered stream is reported
// from its failure record.
func (l *lookup) find(ctx context.Context, q Query) ([]Status, error) {
	by, id := logstore.ByEventID, q.EventID
	switch {
	case q.TaskID != "":
		by, id = logstore.ByTaskID, q.TaskID
	case q.RunID != "":
		by, id = logstore.ByRunID, q.RunID
	}
	rounds, err := l.store.Find(ctx, by, id, q.OrgID)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	out := make([]Status, 0, len(rounds))
	for _, d := range rounds {
		out = append(out, fromDelivery(d))
	}
	if len(out) == 0 && q.EventID != "" {
		return l.onlyUndelivered(ctx, q.OrgID, q.EventID)
	}
	if out, err = l.markUndelivered(ctx, out); err != nil {
		return nil, err
	}
	for i := range out {
		if err := l.addReplay(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// onlyUndelivered reports an event that is only in the undelivered stream.
func (l *lookup) onlyUndelivered(ctx context.Context, orgID, eventID string) ([]Status, error) {
	if l.undelivered == nil {
		return nil, nil
	}
	org := orgID
	if org == "" {
		org = "*"
	}
	raw, err := l.undelivered.GetLastMsgForSubject(ctx, l.sc.SubjectPrefix+".undelivered."+org+".*."+eventID)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("status: undelivered %s: %w", eventID, err)
	}
	return []Status{fromUndelivered(raw)}, nil
}

// fromUndelivered reports an undelivered message that the log does not
// know: from its failure record, else from its subject alone.
func fromUndelivered(raw *jetstream.RawStreamMsg) Status {
	var s Status
	if o, err := envelope.DecodeOutcome([]byte(raw.Header.Get(envelope.HeaderFailure))); err == nil {
		s = fromOutcome(o)
	}
	// <prefix>.undelivered.<org_id>.<source>.<event_id>
	if t := strings.Split(raw.Subject, "."); len(t) == 5 {
		s.OrgID, s.Source, s.EventID = t[2], t[3], t[4]
	}
	s.State, s.Final, s.Success, s.InUndelivered = envelope.StateUndelivered, true, false, true
	return s
}

// inUndelivered reports whether the event's undelivered subject holds a message.
func (l *lookup) inUndelivered(ctx context.Context, orgID string, source envelope.Source, eventID string) (bool, error) {
	if l.undelivered == nil {
		return false, nil
	}
	_, err := l.undelivered.GetLastMsgForSubject(ctx, l.sc.UndeliveredSubject(orgID, source, eventID))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("status: undelivered %s: %w", eventID, err)
	}
}

// markUndelivered sets InUndelivered on each status and sorts them by
// QueuedAt.
func (l *lookup) markUndelivered(ctx context.Context, out []Status) ([]Status, error) {
	for i := range out {
		in, err := l.inUndelivered(ctx, out[i].OrgID, envelope.Source(out[i].Source), out[i].EventID)
		if err != nil {
			return nil, err
		}
		out[i].InUndelivered = in
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].QueuedAt.Before(out[j].QueuedAt) })
	return out, nil
}
