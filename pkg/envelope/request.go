package envelope

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Version is the delivery request format version this package writes and
// the only one it reads.
const Version = 1

// Source says which product feature produced an event; it is a subject token.
type Source string

// The two sources of outgoing webhooks.
const (
	// SourceJob is an async-job webhook (webhook_url on an async endpoint).
	SourceJob Source = "job"
	// SourceWorkflow is a workflow outgoing_webhook block.
	SourceWorkflow Source = "workflow"
)

// Timeouts of one delivery attempt, in seconds.
const (
	// DefaultTimeoutSeconds is the per-attempt timeout when none is given:
	// always for async jobs, and the block's default.
	DefaultTimeoutSeconds = 10
	// MaxTimeoutSeconds is the largest timeout_seconds a block may ask for.
	MaxTimeoutSeconds = 300
	// TimeoutCapSeconds is the timeout actually applied at most: larger
	// accepted values are capped to it.
	TimeoutCapSeconds = 150
)

// Request is a delivery request, version 1: what a publisher puts on the
// WEBHOOKS stream. Exactly one of Job (Source "job") and Workflow (Source
// "workflow") is set. Its JSON form is documented in the README.
type Request struct {
	// V is the format version; always Version.
	V int `json:"v"`
	// EventID is the event's UUID (canonical lowercase form). It is made once
	// by the publisher and is the Nats-Msg-Id, the Sixtyfour-Event-Id header
	// and, for workflow runs, the envelope's event_id, on every attempt and
	// replay.
	EventID string `json:"event_id"`
	// OrgID is the organization, [A-Za-z0-9_-]{1,64}; it selects the
	// signing secret.
	OrgID string `json:"org_id"`
	// Source is SourceJob or SourceWorkflow.
	Source Source `json:"source"`
	// EventType is the Sixtyfour-Event-Type header: the job's task_type, or
	// WorkflowEventType for workflow runs.
	EventType string `json:"event_type"`
	// URL is the destination: absolute https (http only where the operator
	// allows it), at most MaxURLLength characters, no userinfo.
	URL string `json:"url"`
	// Headers are extra HTTP headers (workflow blocks only). Names are
	// tokens and values have no CR/LF; reserved names are refused.
	Headers map[string]string `json:"headers,omitempty"`
	// TimeoutSeconds is the per-attempt timeout a workflow block asked for,
	// 0 < x <= MaxTimeoutSeconds, capped at TimeoutCapSeconds when applied.
	// Zero means DefaultTimeoutSeconds; async jobs always use the default.
	TimeoutSeconds float64 `json:"timeout_seconds,omitempty"`
	// CreatedAt is when the publisher made the request (UTC).
	CreatedAt time.Time `json:"created_at"`
	// Job is the async-job result envelope, for Source "job".
	Job *JobResult `json:"job,omitempty"`
	// Workflow is the workflow run, for Source "workflow".
	Workflow *WorkflowRun `json:"workflow,omitempty"`
}

// Block holds the per-request settings of a workflow outgoing_webhook block.
type Block struct {
	// Headers are extra HTTP headers; CR and LF are stripped from names.
	Headers map[string]string
	// TimeoutSeconds is the per-attempt timeout, 0 < x <= 300; 0 means the
	// default of 10 s.
	TimeoutSeconds float64
}

// NewEventID returns a new event id: a UUID version 7, whose first 48 bits
// are the creation time in Unix milliseconds (readers of the attempt stream
// start from it), and whose other 74 bits are random.
func NewEventID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("envelope: generate event id: %w", err)
	}
	return id.String(), nil
}

// NewJobRequest builds a delivery request for an async-job result with a new
// event id, created at now. It does not validate; call Validate.
func NewJobRequest(now time.Time, orgID, url string, job JobResult) (*Request, error) {
	id, err := NewEventID()
	if err != nil {
		return nil, err
	}
	return &Request{
		V: Version, EventID: id, OrgID: orgID, Source: SourceJob, EventType: job.TaskType,
		URL: url, CreatedAt: now.UTC(), Job: &job,
	}, nil
}

// NewWorkflowRequest builds a delivery request for a workflow run with a new
// event id, created at now; header names have CR and LF stripped. It does not
// validate; call Validate.
func NewWorkflowRequest(now time.Time, orgID, url string, run WorkflowRun, block Block) (*Request, error) {
	id, err := NewEventID()
	if err != nil {
		return nil, err
	}
	var headers map[string]string
	if len(block.Headers) > 0 {
		headers = make(map[string]string, len(block.Headers))
		for k, v := range block.Headers {
			headers[SanitizeHeaderName(k)] = v
		}
	}
	return &Request{
		V: Version, EventID: id, OrgID: orgID, Source: SourceWorkflow, EventType: WorkflowEventType,
		URL: url, Headers: headers, TimeoutSeconds: block.TimeoutSeconds, CreatedAt: now.UTC(), Workflow: &run,
	}, nil
}

// Timeout returns the per-attempt timeout to apply: DefaultTimeoutSeconds
// when unset, otherwise TimeoutSeconds capped at TimeoutCapSeconds.
func (r *Request) Timeout() time.Duration {
	s := r.TimeoutSeconds
	if s <= 0 || math.IsNaN(s) {
		s = DefaultTimeoutSeconds
	}
	if s > TimeoutCapSeconds {
		s = TimeoutCapSeconds
	}
	return time.Duration(s * float64(time.Second))
}

// Validate checks every field and returns a *ValidationError naming each
// bad one, or nil. urls decides whether plain http is accepted.
func (r *Request) Validate(urls URLPolicy) error { return r.validate(urls, false) }

// validate is Validate; rawChecked says that the raw result values are
// known to be valid JSON (Decode checked them), so only their kind is looked at.
func (r *Request) validate(urls URLPolicy, rawChecked bool) error {
	var p problems
	if r.V != Version {
		p.add("v", "must be "+strconv.Itoa(Version))
	}
	if id, err := uuid.Parse(r.EventID); err != nil || id.String() != r.EventID {
		p.add("event_id", "must be a UUID in canonical lowercase form")
	}
	if !ValidOrgID(r.OrgID) {
		p.add("org_id", "must match [A-Za-z0-9_-]{1,64}")
	}
	if msg := urls.CheckURL(r.URL); msg != "" {
		p.add("url", msg)
	}
	if r.CreatedAt.IsZero() {
		p.add("created_at", "required")
	}
	switch r.Source {
	case SourceJob:
		r.checkJob(&p, rawChecked)
	case SourceWorkflow:
		r.checkWorkflow(&p, urls, rawChecked)
	case "":
		p.add("source", "required")
	default:
		p.add("source", `must be "job" or "workflow"`)
	}
	return p.err()
}

func (r *Request) checkJob(p *problems, rawChecked bool) {
	if r.Workflow != nil {
		p.add("workflow", `not allowed when source is "job"`)
	}
	if len(r.Headers) > 0 {
		p.add("headers", "only workflow blocks may set extra headers")
	}
	if r.TimeoutSeconds != 0 {
		p.add("timeout_seconds", "only workflow blocks may set a timeout; async-job deliveries use 10 s")
	}
	if r.Job == nil {
		p.add("job", `required when source is "job"`)
		return
	}
	r.Job.check(p, "job", rawChecked)
	if r.EventType != r.Job.TaskType {
		p.add("event_type", "must equal job.task_type")
	}
}

func (r *Request) checkWorkflow(p *problems, urls URLPolicy, rawChecked bool) {
	if r.Job != nil {
		p.add("job", `not allowed when source is "workflow"`)
	}
	if r.EventType != WorkflowEventType {
		p.add("event_type", "must be "+strconv.Quote(WorkflowEventType))
	}
	if s := r.TimeoutSeconds; math.IsNaN(s) || s < 0 || s > MaxTimeoutSeconds {
		p.add("timeout_seconds", "must be > 0 and <= 300")
	}
	checkHeaders(p, r.Headers)
	if r.Workflow == nil {
		p.add("workflow", `required when source is "workflow"`)
		return
	}
	r.Workflow.check(p, "workflow", urls, rawChecked)
}

// Encode returns the request's JSON form, as published on WEBHOOKS.
func (r *Request) Encode() ([]byte, error) {
	b, err := marshal(r)
	if err != nil {
		return nil, fmt.Errorf("envelope: encode request %s: %w", r.EventID, err)
	}
	return b, nil
}

// Attempt is what a deliverer fills in for one attempt.
type Attempt struct {
	// Number is the attempt, starting at 1.
	Number int
	// SentAt is the send time (completed_at).
	SentAt time.Time
	// DownloadURL, when not nil, is the signed results_download_url of this
	// attempt (workflow runs); nil keeps the request's own.
	DownloadURL *string
}

// Render returns the exact bytes to POST for one attempt: the job result
// envelope, or the workflow run envelope with attempt, completed_at,
// duration_ms (and a fresh download URL, when given) filled.
func (r *Request) Render(a Attempt) ([]byte, error) {
	switch {
	case r.Job != nil:
		return r.Job.Body()
	case r.Workflow != nil:
		env := r.Workflow.Envelope(r.EventID, r.OrgID, r.CreatedAt, a.Number, a.SentAt)
		if a.DownloadURL != nil {
			env.ResultsDownloadURL = a.DownloadURL
		}
		return env.Body()
	default:
		return nil, fmt.Errorf("envelope: request %s has no payload: %w", r.EventID, ErrInvalid)
	}
}

// Body is Render for an attempt without a fresh download URL.
func (r *Request) Body(attempt int, sentAt time.Time) ([]byte, error) {
	return r.Render(Attempt{Number: attempt, SentAt: sentAt})
}

// Host returns the destination's host name in lower case, without port or
// IPv6 brackets; "" when the URL does not parse.
func (r *Request) Host() string {
	u, err := url.Parse(r.URL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}
