package runresult

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/attemptlog"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
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

// event names a workflow event's records, after checking the ids; sc is
// returned with its defaults.
func event(sc Streams, orgID, eventID string) (Streams, attemptlog.Event, error) {
	sc = sc.WithDefaults()
	if id, err := uuid.Parse(eventID); !envelope.ValidOrgID(orgID) || err != nil || id.String() != eventID {
		return sc, attemptlog.Event{}, fmt.Errorf("%w: org %q, event %q", ErrInvalidID, orgID, eventID)
	}
	return sc, attemptlog.Event{OrgID: orgID, Source: envelope.SourceWorkflow, EventID: eventID}, nil
}

// Lookup reads the current state of the workflow event eventID of orgID
// from its attempt records, without waiting. It returns (columns, outcome,
// true, nil) when the state is final; (zero, outcome, false, nil) while it
// is not (retrying); (zero, nil, false, nil) when there is no record yet.
// sc names the streams (zero fields take the defaults). Errors:
// ErrInvalidID, a record that does not decode (envelope.ErrMalformed), or
// JetStream's, wrapped.
func Lookup(ctx context.Context, js jetstream.JetStream, sc Streams, orgID, eventID string) (Columns, *envelope.Outcome, bool, error) {
	sc, ev, err := event(sc, orgID, eventID)
	if err != nil {
		return Columns{}, nil, false, err
	}
	o, err := attemptlog.Latest(ctx, js, sc, ev)
	if err != nil {
		return Columns{}, nil, false, fmt.Errorf("runresult: %w", err)
	}
	if o == nil || !o.Final {
		return Columns{}, o, false, nil
	}
	return ColumnsOf(o), o, true, nil
}

// Await waits until the workflow event eventID of orgID has a final
// attempt record (delivered or undelivered) and returns its columns and the
// event's state. It reads the organization's workflow records on the
// attempt stream from the event's creation time, then is woken by each new
// record; records that are not final (retrying) are skipped, and records
// of other events are skipped without decoding. When ctx ends first it
// returns ctx.Err(). Other errors: ErrInvalidID, a record that does not
// decode (envelope.ErrMalformed), or JetStream's (such as
// jetstream.ErrStreamNotFound), wrapped.
//
// An event that was undelivered and is then replayed has two final
// records; Await returns the first it finds.
func Await(ctx context.Context, js jetstream.JetStream, sc Streams, orgID, eventID string) (Columns, *envelope.Outcome, error) {
	sc, ev, err := event(sc, orgID, eventID)
	if err != nil {
		return Columns{}, nil, err
	}
	o, err := attemptlog.AwaitFinal(ctx, js, sc, ev)
	if err != nil {
		if ctx.Err() != nil {
			return Columns{}, nil, ctx.Err()
		}
		return Columns{}, nil, fmt.Errorf("runresult: %w", err)
	}
	return ColumnsOf(o), o, nil
}
