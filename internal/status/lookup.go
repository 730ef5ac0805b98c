package status

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/streams"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// scanBatch is how many outcome records one fetch asks for.
const scanBatch = 512

// lookup holds the streams one Lookup reads.
type lookup struct {
	sc          streams.Config
	outcomes    jetstream.Stream
	undelivered jetstream.Stream
}

func newLookup(ctx context.Context, js jetstream.JetStream, sc streams.Config) (*lookup, error) {
	l := &lookup{sc: sc}
	var err error
	if l.outcomes, err = js.Stream(ctx, sc.OutcomesStream); err != nil {
		return nil, fmt.Errorf("status: open stream %s: %w", sc.OutcomesStream, err)
	}
	if l.undelivered, err = js.Stream(ctx, sc.UndeliveredStream); err != nil {
		return nil, fmt.Errorf("status: open stream %s: %w", sc.UndeliveredStream, err)
	}
	return l, nil
}

// byEvent reads the event's outcome (one direct get with a wildcard
// subject, so org and source need not be known) and checks the undelivered
// stream. An event without an outcome record (its recording failed) that
// is in the undelivered stream is reported from its failure record.
func (l *lookup) byEvent(ctx context.Context, orgID, eventID string) ([]Status, error) {
	org := orStar(orgID)
	raw, err := l.outcomes.GetLastMsgForSubject(ctx, l.sc.SubjectPrefix+".outcome."+org+".*."+eventID)
	switch {
	case err == nil:
		o, err := envelope.DecodeOutcome(raw.Data)
		if err != nil {
			return nil, fmt.Errorf("status: outcome of %s: %w", eventID, err)
		}
		s := fromOutcome(o)
		if s.InUndelivered, err = l.inUndelivered(ctx, o.OrgID, o.Source, o.EventID); err != nil {
			return nil, err
		}
		return []Status{s}, nil
	case !errors.Is(err, jetstream.ErrMsgNotFound):
		return nil, fmt.Errorf("status: outcome of %s: %w", eventID, err)
	}
	raw, err = l.undelivered.GetLastMsgForSubject(ctx, l.sc.SubjectPrefix+".undelivered."+org+".*."+eventID)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("status: undelivered %s: %w", eventID, err)
	}
	return []Status{fromUndelivered(raw)}, nil
}

// fromUndelivered reports an undelivered message that has no outcome
// record: from its failure record, else from its subject alone.
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

// scan reads the latest outcome of every event of the query's source (job
// for a task id, workflow for a run id), in one organization or all, with an
// ordered consumer, and keeps the matches. It costs O(outcomes kept).
func (l *lookup) scan(ctx context.Context, q Query) ([]Status, error) {
	source, want := envelope.SourceJob, q.TaskID
	if q.RunID != "" {
		source, want = envelope.SourceWorkflow, q.RunID
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{l.sc.SubjectPrefix + ".outcome." + orStar(q.OrgID) + "." + string(source) + ".*"},
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		InactiveThreshold: 30 * time.Second,
	}
	quick := plainID(want) // then the raw JSON contains it verbatim
	var out []Status
	err := streams.Scan(ctx, l.outcomes, cfg, scanBatch, func(msg jetstream.Msg, _ *jetstream.MsgMetadata) bool {
		if quick && !bytes.Contains(msg.Data(), []byte(want)) {
			return true
		}
		o, err := envelope.DecodeOutcome(msg.Data())
		if err == nil && o.TaskID == q.TaskID && o.RunID == q.RunID {
			out = append(out, fromOutcome(o))
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	return l.markUndelivered(ctx, out)
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

// plainID reports whether id is made of characters that JSON writes
// verbatim, so a record that does not contain its bytes cannot match.
func plainID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':') {
			return false
		}
	}
	return id != ""
}

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}
