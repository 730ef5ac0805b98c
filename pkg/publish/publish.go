// Package publish is how job runners written in Go hand completion events
// to the webhook pipeline: it validates a delivery request (fields, URL
// syntax, and that the destination host resolves to public addresses
// only), publishes it on the WEBHOOKS stream with the event id as
// Nats-Msg-Id, and returns only once JetStream has stored it.
//
// Publishing is idempotent: a publish retried after a timeout reuses the
// event id, so JetStream acknowledges it without storing it twice.
package publish

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// Defaults for Config.
const (
	// DefaultTryTimeout bounds one publish round trip.
	DefaultTryTimeout = 5 * time.Second
	// DefaultTries is how many times a publish is tried before giving up.
	DefaultTries = 3
	// DefaultHostCheckTimeout bounds the DNS lookup of the destination host.
	DefaultHostCheckTimeout = 5 * time.Second
)

var (
	// ErrUnavailable means JetStream did not confirm storing the event (no
	// server, no quorum, timeout, stream full). Nothing may be assumed
	// stored; retrying with the same request is safe.
	ErrUnavailable = errors.New("event not stored: JetStream unavailable")
	// ErrTooLarge means the request exceeds the stream's message size limit.
	ErrTooLarge = errors.New("event too large")
)

// Streams names the JetStream resources events are published to. The zero
// value means the defaults every process uses; set its fields only where
// the deployment changed them.
type Streams = streams.Config

// Config configures a Publisher. Zero fields take their defaults.
type Config struct {
	// Streams names the JetStream resources; zero fields take the streams defaults.
	Streams Streams
	// URLs decides whether plain-http destinations are accepted. Defaults to https only.
	URLs envelope.URLPolicy
	// Destinations is the destination address policy: the host of every URL
	// must resolve to addresses it allows. The zero value refuses every
	// private and special-purpose address.
	Destinations egress.Policy
	// Resolver looks hosts up. Defaults to net.DefaultResolver.
	Resolver egress.Resolver
	// HostCheckTimeout bounds the lookup. Defaults to DefaultHostCheckTimeout.
	HostCheckTimeout time.Duration
	// TryTimeout bounds one publish round trip. Defaults to DefaultTryTimeout.
	TryTimeout time.Duration
	// Tries is the number of publish attempts. Defaults to DefaultTries.
	Tries int
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Results is the results Object Store bucket (results.BucketConfig),
	// where rows too large to inline are stored for results_download_url.
	// Optional: without it, such rows are refused with a validation error.
	Results jetstream.ObjectStore
	// InlineResultsLimit is the largest compact JSON of a workflow run's
	// rows sent inline in results, in bytes. Defaults to
	// DefaultInlineResultsLimit (256 KiB).
	InlineResultsLimit int
}

// Receipt confirms a stored event.
type Receipt struct {
	// EventID is the event's id: the Sixtyfour-Event-Id receivers see.
	EventID string `json:"event_id"`
	// Stream and Sequence locate the stored request.
	Stream   string `json:"stream"`
	Sequence uint64 `json:"sequence"`
	// Duplicate is true when the event had been stored already (a retried publish).
	Duplicate bool `json:"duplicate"`
}

// Publisher publishes delivery requests. It is safe for concurrent use.
type Publisher struct {
	js  jetstream.JetStream
	cfg Config
}

// New returns a Publisher. The streams must exist (streams.Ensure).
func New(js jetstream.JetStream, cfg Config) *Publisher {
	cfg.Streams = cfg.Streams.WithDefaults()
	if cfg.HostCheckTimeout <= 0 {
		cfg.HostCheckTimeout = DefaultHostCheckTimeout
	}
	if cfg.TryTimeout <= 0 {
		cfg.TryTimeout = DefaultTryTimeout
	}
	if cfg.Tries <= 0 {
		cfg.Tries = DefaultTries
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.InlineResultsLimit <= 0 {
		cfg.InlineResultsLimit = DefaultInlineResultsLimit
	}
	return &Publisher{js: js, cfg: cfg}
}

// PublishJob publishes an async-job result for orgID, to be POSTed to url.
func (p *Publisher) PublishJob(ctx context.Context, orgID, url string, job envelope.JobResult) (Receipt, error) {
	req, err := envelope.NewJobRequest(p.cfg.Now(), orgID, url, job)
	if err != nil {
		return Receipt{}, err
	}
	return p.Publish(ctx, req)
}

// PublishWorkflow publishes a workflow run for orgID, to be POSTed to url
// with the block's extra headers and timeout.
func (p *Publisher) PublishWorkflow(ctx context.Context, orgID, url string, run envelope.WorkflowRun, block envelope.Block) (Receipt, error) {
	req, err := envelope.NewWorkflowRequest(p.cfg.Now(), orgID, url, run, block)
	if err != nil {
		return Receipt{}, err
	}
	return p.Publish(ctx, req)
}

// Publish validates req and stores it on the WEBHOOKS stream. Errors:
// a *envelope.ValidationError (errors.Is ErrInvalid) naming each bad field,
// including a destination refused by the address policy; ErrTooLarge;
// ErrUnavailable when JetStream did not confirm the write.
//
// For a workflow run it also applies the results rules, so every way in
// (PublishWorkflow, the HTTP ingest, Publish) behaves the same: row_count
// must equal the number of rows in a results array; include_csv_download_link
// sets results_object to the previous block's CSV (results.CSVKey) unless
// one is set; rows whose compact JSON exceeds Config.InlineResultsLimit are
// not inlined (results becomes null) and, unless results_object already
// names the file that carries the data, are stored in Config.Results under
// results.RowsKey, which becomes results_object. The changes go to a copy:
// req is not modified and can be retried.
func (p *Publisher) Publish(ctx context.Context, req *envelope.Request) (Receipt, error) {
	if err := p.Check(ctx, req); err != nil {
		return Receipt{}, err
	}
	plan, err := p.planResults(req)
	if err != nil {
		return Receipt{}, err
	}
	if req, err = p.placeResults(ctx, req, plan); err != nil {
		return Receipt{}, err
	}
	data, err := req.Encode()
	if err != nil {
		return Receipt{}, err
	}
	msg := nats.NewMsg(p.cfg.Streams.DeliverSubject(req.OrgID, req.Source))
	msg.Data = data
	msg.Header.Set(nats.MsgIdHdr, req.EventID)
	ack, err := p.store(ctx, msg)
	if err != nil {
		return Receipt{}, fmt.Errorf("publish event %s: %w", req.EventID, err)
	}
	return Receipt{EventID: req.EventID, Stream: ack.Stream, Sequence: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

// Check validates req as Publish would, without publishing or storing
// anything: every field, the workflow results rules (see Publish), then the
// destination host against the address policy.
func (p *Publisher) Check(ctx context.Context, req *envelope.Request) error {
	if err := req.Validate(p.cfg.URLs); err != nil {
		return err
	}
	if _, err := p.planResults(req); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.HostCheckTimeout)
	defer cancel()
	if err := p.cfg.Destinations.CheckHost(ctx, req.Host(), p.cfg.Resolver); err != nil {
		return &envelope.ValidationError{Fields: []envelope.FieldError{{Field: "url", Message: err.Error()}}}
	}
	return nil
}

// store publishes msg, retrying timeouts with the same Nats-Msg-Id.
func (p *Publisher) store(ctx context.Context, msg *nats.Msg) (*jetstream.PubAck, error) {
	var last error
	for try := 1; try <= p.cfg.Tries; try++ {
		tctx, cancel := context.WithTimeout(ctx, p.cfg.TryTimeout)
		ack, err := p.js.PublishMsg(tctx, msg)
		cancel()
		if err == nil {
			if err := p.cfg.Streams.CheckStored(ack); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
			}
			return ack, nil
		}
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) {
			if apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum {
				return nil, fmt.Errorf("%w: %v", ErrTooLarge, err)
			}
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		if errors.Is(err, nats.ErrMaxPayload) {
			return nil, fmt.Errorf("%w: %v", ErrTooLarge, err)
		}
		last = err
		if ctx.Err() != nil {
			break
		}
		retry.Pause(ctx, time.Duration(try)*200*time.Millisecond)
	}
	return nil, fmt.Errorf("%w: %v", ErrUnavailable, last)
}
