package runresult

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/streams"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// ErrInvalidID is returned when orgID is not [A-Za-z0-9_-]{1,64} or eventID
// is not a UUID in canonical lowercase form (both are subject tokens).
var ErrInvalidID = errors.New("runresult: invalid organization or event id")

// Columns are the three columns the outgoing_webhook block adds to the
// run's output dataset, taken from the event's final outcome.
type Columns struct {
	// StatusCode is webhook_status_code: the HTTP status of the last
	// attempt, 0 when no response came (timeout, connection error, refused
	// destination).
	StatusCode int `json:"webhook_status_code"`
	// Response is webhook_response: the start of the last response body, at
	// most envelope.MaxResponseExcerpt (2,048) bytes of valid UTF-8.
	Response string `json:"webhook_response"`
	// Success is webhook_success: true when the webhook was delivered (a 2xx).
	Success bool `json:"webhook_success"`
}

// ColumnsOf returns the block columns of a final outcome: its
// webhook_* fields, or, for a record without them, the fields they are
// made from (status_code, response_excerpt, success). The response is cut
// to the column's limit.
func ColumnsOf(o *envelope.Outcome) Columns {
	c := Columns{StatusCode: o.StatusCode, Response: o.ResponseExcerpt, Success: o.Success}
	if o.WebhookStatusCode != nil {
		c.StatusCode = *o.WebhookStatusCode
	}
	if o.WebhookResponse != nil {
		c.Response = *o.WebhookResponse
	}
	if o.WebhookSuccess != nil {
		c.Success = *o.WebhookSuccess
	}
	c.Response = envelope.Excerpt([]byte(c.Response))
	return c
}

// Streams names the JetStream resources the outcomes are read from. The
// zero value means the defaults every process uses; set its fields only
// where the deployment changed them.
type Streams = streams.Config

// subject is the outcome subject of a workflow event, after checking the
// ids; sc is returned with its defaults.
func subject(sc Streams, orgID, eventID string) (Streams, string, error) {
	sc = sc.WithDefaults()
	if id, err := uuid.Parse(eventID); !envelope.ValidOrgID(orgID) || err != nil || id.String() != eventID {
		return sc, "", fmt.Errorf("%w: org %q, event %q", ErrInvalidID, orgID, eventID)
	}
	return sc, sc.OutcomeSubject(orgID, envelope.SourceWorkflow, eventID), nil
}

// Lookup reads the latest outcome of the workflow event eventID of orgID,
// without waiting. It returns (columns, outcome, true, nil) when the
// outcome is final; (zero, outcome, false, nil) while it is not (retrying);
// (zero, nil, false, nil) when there is no outcome yet. sc names the
// streams (zero fields take the defaults). Errors: ErrInvalidID, a record
// that does not decode (envelope.ErrMalformed), or JetStream's, wrapped.
func Lookup(ctx context.Context, js jetstream.JetStream, sc Streams, orgID, eventID string) (Columns, *envelope.Outcome, bool, error) {
	sc, subj, err := subject(sc, orgID, eventID)
	if err != nil {
		return Columns{}, nil, false, err
	}
	stream, err := js.Stream(ctx, sc.OutcomesStream)
	if err != nil {
		return Columns{}, nil, false, fmt.Errorf("runresult: stream %s: %w", sc.OutcomesStream, err)
	}
	msg, err := stream.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Columns{}, nil, false, nil
	}
	if err != nil {
		return Columns{}, nil, false, fmt.Errorf("runresult: read %s: %w", subj, err)
	}
	o, err := envelope.DecodeOutcome(msg.Data)
	if err != nil {
		return Columns{}, nil, false, fmt.Errorf("runresult: %s: %w", subj, err)
	}
	if !o.Final {
		return Columns{}, o, false, nil
	}
	return ColumnsOf(o), o, true, nil
}

// Await waits until the workflow event eventID of orgID has a final outcome
// (delivered or undelivered) and returns its columns and the outcome record.
// It watches the event's outcome subject with an ordered consumer that starts
// at the latest record (so an outcome written before the call counts) and is
// woken by each new write; records that are not final (retrying) are
// skipped. When ctx ends first it returns ctx.Err(). Other errors:
// ErrInvalidID, a record that does not decode (envelope.ErrMalformed), or
// JetStream's (such as jetstream.ErrStreamNotFound), wrapped.
//
// An event that was undelivered and is then replayed is final as
// undelivered until the replay's outcome replaces it; Await returns the
// record it finds first.
func Await(ctx context.Context, js jetstream.JetStream, sc Streams, orgID, eventID string) (Columns, *envelope.Outcome, error) {
	sc, subj, err := subject(sc, orgID, eventID)
	if err != nil {
		return Columns{}, nil, err
	}
	cons, err := js.OrderedConsumer(ctx, sc.OutcomesStream, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{subj},
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		InactiveThreshold: watchInactiveThreshold,
	})
	if err != nil {
		if ctx.Err() != nil {
			return Columns{}, nil, ctx.Err()
		}
		return Columns{}, nil, fmt.Errorf("runresult: watch %s: %w", subj, err)
	}
	defer removeWatch(ctx, js, sc.OutcomesStream, cons)
	type result struct {
		o   *envelope.Outcome
		err error
	}
	found := make(chan result, 1)
	send := func(r result) {
		select {
		case found <- r:
		default: // one result is enough
		}
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		o, err := envelope.DecodeOutcome(m.Data())
		switch {
		case err != nil:
			send(result{err: fmt.Errorf("runresult: %s: %w", subj, err)})
		case o.Final:
			send(result{o: o})
		}
	})
	if err != nil {
		return Columns{}, nil, fmt.Errorf("runresult: watch %s: %w", subj, err)
	}
	defer cc.Stop() // runs before removeWatch
	select {
	case r := <-found:
		if r.err != nil {
			return Columns{}, nil, r.err
		}
		return ColumnsOf(r.o), r.o, nil
	case <-ctx.Done():
		return Columns{}, nil, ctx.Err()
	}
}

// watchInactiveThreshold is how long the server keeps the watch consumer of
// an Await whose process died without removing it.
const watchInactiveThreshold = time.Minute

// removeWatch deletes Await's consumer from the server at once (Stop alone
// would leave it for watchInactiveThreshold), within a second, even when ctx
// has ended.
func removeWatch(ctx context.Context, js jetstream.JetStream, stream string, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	_ = js.DeleteConsumer(dctx, stream, info.Name)
}
