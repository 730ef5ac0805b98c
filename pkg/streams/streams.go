// Package streams owns the JetStream layout of the pipeline: stream,
// consumer, bucket and subject names, their settings, and their idempotent
// creation at start-up. Publishers and deliverers call Ensure; nothing else
// creates or changes these resources.
package streams

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// Default names and settings. Every name is configurable through Config.
const (
	// DefaultDeliverStream holds pending deliveries (work-queue retention).
	DefaultDeliverStream = "WEBHOOKS"
	// DefaultUndeliveredStream holds events whose attempts are exhausted or
	// that failed terminally.
	DefaultUndeliveredStream = "WEBHOOKS_UNDELIVERED"
	// DefaultAttemptsStream holds the attempt records the deliverers
	// publish, until the log writer has stored them (a short buffer).
	DefaultAttemptsStream = "WEBHOOKS_ATTEMPTS"
	// DefaultLogConsumer is the durable consumer of the log writers on the
	// attempt stream.
	DefaultLogConsumer = "log-writer"
	// DefaultOutcomesStream held the latest outcome of each event before the
	// delivery log; it is only read, once, to import its records.
	DefaultOutcomesStream = "WEBHOOKS_OUTCOMES"
	// DefaultSecretsBucket is the KV bucket of organization signing secrets.
	DefaultSecretsBucket = "WEBHOOKS_SECRETS"
	// DefaultTokensBucket is the KV bucket of API tokens (their SHA-256
	// digests and metadata, never the tokens).
	DefaultTokensBucket = "WEBHOOKS_API_TOKENS"
	// DefaultConsumer is the durable pull consumer every deliverer binds to.
	DefaultConsumer = "deliverer"
	// DefaultWaiterConsumer holds workflow events that wait for their
	// previous block's CSV, outside the deliverers' consumer.
	DefaultWaiterConsumer = "link-waiter"
	// DefaultResultsBucket is the Object Store bucket of result files (CSVs
	// and rows too large to inline) that download URLs point to.
	DefaultResultsBucket = "WEBHOOKS_RESULTS"
	// DefaultSubjectPrefix starts every subject of the pipeline.
	DefaultSubjectPrefix = "webhooks"
	// DefaultReplicas is the replica count of streams and buckets: 1 for
	// local use; production clusters use 3.
	DefaultReplicas = 1
	// DefaultDuplicateWindow is how long a Nats-Msg-Id is remembered, so a
	// publisher that retries a publish within it creates no duplicate.
	DefaultDuplicateWindow = 2 * time.Minute
	// DefaultUndeliveredMaxAge is how long undelivered events are kept.
	DefaultUndeliveredMaxAge = 14 * 24 * time.Hour
	// DefaultAttemptsMaxAge is how long attempt records stay on the attempt
	// stream: the log store is the record, the stream only a buffer that
	// outlasts a log-store outage.
	DefaultAttemptsMaxAge = 24 * time.Hour
	// DefaultMaxMsgSize bounds one delivery request on WEBHOOKS, in bytes.
	DefaultMaxMsgSize = 1 << 20
	// DefaultAckWait is how long the server waits for an ack (or an
	// InProgress heartbeat) before redelivering a message.
	DefaultAckWait = 30 * time.Second
	// DefaultMaxAckPending bounds the messages outstanding on the consumer,
	// including those waiting out a NakWithDelay. It must be well above the
	// deliverers' total concurrency plus the retries parked at any time.
	DefaultMaxAckPending = 20000
)

// ErrInvalidConfig wraps every Config validation error.
var ErrInvalidConfig = errors.New("invalid streams config")

// ErrConsumerConflict is wrapped by Ensure's error when the deliver stream
// already has consumers of other names, such as a running quickstart's:
// it is a work queue, so JetStream allows one consumer per subject.
var ErrConsumerConflict = errors.New("streams: the deliver stream belongs to other processes")

// Config names the pipeline's JetStream resources and their settings. The
// zero value is completed by Defaults.
type Config struct {
	// DeliverStream is the pending-deliveries stream. Defaults to DefaultDeliverStream.
	DeliverStream string
	// UndeliveredStream is the dead-letter stream. Defaults to DefaultUndeliveredStream.
	UndeliveredStream string
	// AttemptsStream is the attempt-record stream. Defaults to DefaultAttemptsStream.
	AttemptsStream string
	// LogConsumer is the log writers' durable consumer. Defaults to DefaultLogConsumer.
	LogConsumer string
	// OutcomesStream is the legacy outcome stream, imported once. Defaults
	// to DefaultOutcomesStream.
	OutcomesStream string
	// SecretsBucket is the signing-secret KV bucket. Defaults to DefaultSecretsBucket.
	SecretsBucket string
	// TokensBucket is the API-token KV bucket. Defaults to DefaultTokensBucket.
	TokensBucket string
	// Consumer is the durable consumer name. Defaults to DefaultConsumer.
	Consumer string
	// WaiterConsumer is the link waiter's durable consumer. Defaults to DefaultWaiterConsumer.
	WaiterConsumer string
	// ResultsBucket is the results Object Store. Defaults to DefaultResultsBucket.
	ResultsBucket string
	// SubjectPrefix is the first subject token. Defaults to DefaultSubjectPrefix.
	SubjectPrefix string
	// Replicas for streams, consumer and bucket (1..5). Defaults to DefaultReplicas.
	Replicas int
	// DuplicateWindow is the publish dedupe window. Defaults to DefaultDuplicateWindow.
	DuplicateWindow time.Duration
	// UndeliveredMaxAge is the undelivered retention. Defaults to DefaultUndeliveredMaxAge.
	UndeliveredMaxAge time.Duration
	// AttemptsMaxAge is the attempt stream's retention. Defaults to DefaultAttemptsMaxAge.
	AttemptsMaxAge time.Duration
	// MaxMsgSize bounds one message on WEBHOOKS, in bytes. Defaults to DefaultMaxMsgSize.
	MaxMsgSize int32
	// AckWait is the consumer's ack wait. Defaults to DefaultAckWait.
	AckWait time.Duration
	// MaxAckPending is the consumer's limit of unacknowledged messages.
	// Defaults to DefaultMaxAckPending.
	MaxAckPending int
	// Partitions is the number of deliver partitions (1..MaxPartitions):
	// above 1, every server needs Mappings. Defaults to DefaultPartitions.
	Partitions int
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.DeliverStream, DefaultDeliverStream)
	def(&c.UndeliveredStream, DefaultUndeliveredStream)
	def(&c.AttemptsStream, DefaultAttemptsStream)
	def(&c.LogConsumer, DefaultLogConsumer)
	def(&c.OutcomesStream, DefaultOutcomesStream)
	def(&c.SecretsBucket, DefaultSecretsBucket)
	def(&c.TokensBucket, DefaultTokensBucket)
	def(&c.Consumer, DefaultConsumer)
	def(&c.WaiterConsumer, DefaultWaiterConsumer)
	def(&c.ResultsBucket, DefaultResultsBucket)
	def(&c.SubjectPrefix, DefaultSubjectPrefix)
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.UndeliveredMaxAge == 0 {
		c.UndeliveredMaxAge = DefaultUndeliveredMaxAge
	}
	if c.AttemptsMaxAge == 0 {
		c.AttemptsMaxAge = DefaultAttemptsMaxAge
	}
	if c.MaxMsgSize == 0 {
		c.MaxMsgSize = DefaultMaxMsgSize
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	return c
}

// Validate checks a defaulted config; errors name the field.
func (c Config) Validate() error {
	switch {
	case c.Replicas < 1 || c.Replicas > 5:
		return fmt.Errorf("%w: Replicas = %d, want 1..5", ErrInvalidConfig, c.Replicas)
	case c.DuplicateWindow < time.Second:
		return fmt.Errorf("%w: DuplicateWindow = %v, want >= 1s", ErrInvalidConfig, c.DuplicateWindow)
	case c.AckWait < time.Second:
		return fmt.Errorf("%w: AckWait = %v, want >= 1s", ErrInvalidConfig, c.AckWait)
	case c.MaxAckPending < 1:
		return fmt.Errorf("%w: MaxAckPending = %d, want >= 1", ErrInvalidConfig, c.MaxAckPending)
	case c.AttemptsMaxAge < time.Minute:
		return fmt.Errorf("%w: AttemptsMaxAge = %v, want >= 1m", ErrInvalidConfig, c.AttemptsMaxAge)
	case c.Partitions < 1 || c.Partitions > MaxPartitions:
		return fmt.Errorf("%w: Partitions = %d, want 1..%d", ErrInvalidConfig, c.Partitions, MaxPartitions)
	}
	for name, v := range map[string]string{
		"DeliverStream": c.DeliverStream, "UndeliveredStream": c.UndeliveredStream, "OutcomesStream": c.OutcomesStream,
		"AttemptsStream": c.AttemptsStream, "LogConsumer": c.LogConsumer,
		"SecretsBucket": c.SecretsBucket, "TokensBucket": c.TokensBucket, "Consumer": c.Consumer, "SubjectPrefix": c.SubjectPrefix,
		"WaiterConsumer": c.WaiterConsumer, "ResultsBucket": c.ResultsBucket,
	} {
		if !envelope.ValidOrgID(v) {
			return fmt.Errorf("%w: %s = %q, want [A-Za-z0-9_-]{1,64}", ErrInvalidConfig, name, v)
		}
	}
	return nil
}

// DeliverSubject is the WEBHOOKS subject of a delivery request:
// <prefix>.deliver.<org_id>.<source>.
func (c Config) DeliverSubject(orgID string, source envelope.Source) string {
	return c.SubjectPrefix + ".deliver." + orgID + "." + string(source)
}

// WaitingSubject is where a workflow event waits for its CSV:
// <prefix>.waiting.<org_id>.<source>.
func (c Config) WaitingSubject(orgID string, source envelope.Source) string {
	return c.SubjectPrefix + ".waiting." + orgID + "." + string(source)
}

// UndeliveredSubject is the per-event dead-letter subject:
// <prefix>.undelivered.<org_id>.<source>.<event_id>.
func (c Config) UndeliveredSubject(orgID string, source envelope.Source, eventID string) string {
	return c.SubjectPrefix + ".undelivered." + orgID + "." + string(source) + "." + eventID
}

// AttemptSubject is the attempt-record subject of an organization's
// events of one source: <prefix>.attempt.<org_id>.<source> on
// WEBHOOKS_ATTEMPTS, or, when c is partitioned, on the attempt stream of
// the organization's partition,
// <prefix>.attempt-partition.<of>.<index>.<org_id>.<source>. Its
// cardinality is bounded by organizations, never by events.
func (c Config) AttemptSubject(orgID string, source envelope.Source) string {
	if c.Partitioned() {
		return c.attemptPartitionPrefix() + strconv.Itoa(c.Partitions) + "." + strconv.Itoa(c.PartitionOf(orgID)) + "." +
			orgID + "." + string(source)
	}
	return c.SubjectPrefix + ".attempt." + orgID + "." + string(source)
}

// AttemptMsg returns r as the message the deliverer publishes on the
// attempt stream: the encoded record on its organization's subject, with
// its event id header and a Nats-Msg-Id of event id, replay and attempt
// (so that a record published twice is stored once).
func (c Config) AttemptMsg(r *envelope.AttemptRecord) (*nats.Msg, error) {
	data, err := r.Encode()
	if err != nil {
		return nil, fmt.Errorf("attempt record of %s: %w", r.EventID, err)
	}
	msg := nats.NewMsg(c.AttemptSubject(r.OrgID, r.Source))
	msg.Data = data
	msg.Header.Set(envelope.HeaderRecordEventID, r.EventID)
	msg.Header.Set(nats.MsgIdHdr, r.EventID+":"+strconv.Itoa(r.Replay)+":"+strconv.Itoa(r.Attempt))
	return msg, nil
}

// AttemptFilter matches the attempt records of one organization ("" for
// every organization) and one source ("" for both) on WEBHOOKS_ATTEMPTS
// (see AttemptFilterIn for every attempt stream).
func (c Config) AttemptFilter(orgID string, source envelope.Source) string {
	org, src := orgID, string(source)
	if org == "" {
		org = "*"
	}
	if src == "" {
		src = "*"
	}
	return c.SubjectPrefix + ".attempt." + org + "." + src
}

// OutcomeFilterAll matches every record of the legacy outcome stream.
func (c Config) OutcomeFilterAll() string { return c.SubjectPrefix + ".outcome.>" }
