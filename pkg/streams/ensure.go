package streams

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/results"
)

// DeliverStreamConfig is the WEBHOOKS stream: work-queue retention (a
// message is removed when acked or terminated), file storage, Discard New
// so a full stream refuses publishes instead of dropping pending events,
// and the Nats-Msg-Id dedupe window.
func (c Config) DeliverStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        c.DeliverStream,
		Description: "Pending webhook deliveries",
		Subjects:    []string{c.SubjectPrefix + ".deliver.>", c.SubjectPrefix + ".waiting.>"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardNew,
		Replicas:    c.Replicas,
		Duplicates:  c.DuplicateWindow,
		MaxMsgSize:  c.MaxMsgSize,
	}
}

// UndeliveredStreamConfig is WEBHOOKS_UNDELIVERED: one subject per event
// holding at most one message, and a second publish to the same subject is
// refused (DiscardNewPerSubject), which makes dead-lettering idempotent.
func (c Config) UndeliveredStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:                 c.UndeliveredStream,
		Description:          "Webhook events whose delivery attempts are exhausted or failed terminally",
		Subjects:             []string{c.SubjectPrefix + ".undelivered.>"},
		Retention:            jetstream.LimitsPolicy,
		Storage:              jetstream.FileStorage,
		Discard:              jetstream.DiscardNew,
		DiscardNewPerSubject: true,
		MaxMsgsPerSubject:    1,
		MaxAge:               c.UndeliveredMaxAge,
		Replicas:             c.Replicas,
		Duplicates:           c.DuplicateWindow,
		AllowDirect:          true,
	}
}

// AttemptsStreamConfig is WEBHOOKS_ATTEMPTS: the attempt records, one
// subject per organization and source, kept AttemptsMaxAge (the log store
// is the record; the stream is the buffer between the deliverers and the
// log writers). Nats-Msg-Id (event:replay:attempt) drops a record
// published twice within the dedupe window.
func (c Config) AttemptsStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        c.AttemptsStream,
		Description: "Webhook attempt records, until the log writer stores them",
		Subjects:    []string{c.SubjectPrefix + ".attempt.>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardOld,
		MaxAge:      c.AttemptsMaxAge,
		Replicas:    c.Replicas,
		Duplicates:  c.DuplicateWindow,
	}
}

// LogConsumerConfig is the durable pull consumer shared by the log
// writers. It exists from the first Ensure, so records published before
// any writer runs are kept for it.
func (c Config) LogConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       c.LogConsumer,
		Description:   "Delivery log writers",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: c.MaxAckPending,
		Replicas:      c.Replicas,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}

// ConsumerConfig is the durable pull consumer shared by every deliverer.
// MaxDeliver is unlimited on purpose: the deliverer counts attempts itself
// (the delivery count) and dead-letters once the schedule is exhausted, so
// a message whose last attempt was interrupted by a crash is redelivered
// and dead-lettered instead of being stranded. There is no BackOff list:
// retries are timed by NakWithDelay alone (the two do not mix).
func (c Config) ConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       c.Consumer,
		Description:   "Webhook deliverers",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: c.MaxAckPending,
		FilterSubject: c.SubjectPrefix + ".deliver.>",
		Replicas:      c.Replicas,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}

// WaiterConsumerConfig is the durable pull consumer of the link waiter:
// workflow events parked while their previous block's CSV is not there
// yet. Each check of the Object Store is a NakWithDelay away from the next.
func (c Config) WaiterConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       c.WaiterConsumer,
		Description:   "Workflow webhooks waiting for their CSV",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: c.MaxAckPending,
		FilterSubject: c.SubjectPrefix + ".waiting.>",
		Replicas:      c.Replicas,
	}
}

// SecretsBucketConfig is the signing-secret KV bucket: one revision per
// organization (older revisions would keep revoked ciphertexts around; the
// record itself keeps the metadata of recently revoked secrets), file storage.
func (c Config) SecretsBucketConfig() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      c.SecretsBucket,
		Description: "Webhook signing secrets, one key per organization (encrypted)",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
	}
}

// TokensBucketConfig is the API-token KV bucket: one key per token id,
// one revision (a revoked token's digest is purged), file storage.
func (c Config) TokensBucketConfig() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      c.TokensBucket,
		Description: "Webhook API tokens, one key per token id (SHA-256 digests, never the tokens)",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
	}
}

// DefaultResultsMaxAge is how long result files are kept.
const DefaultResultsMaxAge = results.DefaultMaxAge

// ResultsBucketConfig is the results Object Store: CSVs of workflow blocks
// and rows too large to inline, kept DefaultResultsMaxAge (download owns
// the settings).
func (c Config) ResultsBucketConfig() jetstream.ObjectStoreConfig {
	return results.BucketConfig(c.ResultsBucket, c.Replicas)
}

// Resources are the handles Ensure returns.
type Resources struct {
	Deliver     jetstream.Stream
	Undelivered jetstream.Stream
	Attempts    jetstream.Stream
	LogConsumer jetstream.Consumer
	Consumer    jetstream.Consumer
	Waiter      jetstream.Consumer
	Secrets     jetstream.KeyValue
	// Tokens is the API-token bucket (internal/apitoken).
	Tokens jetstream.KeyValue
	// Results is the results bucket, opened so that reads hold one chunk
	// at a time (see results.Bucket); it is a jetstream.ObjectStore.
	Results *results.Bucket
	// Partitions are the configured partition streams and their consumers
	// (none when the config is not partitioned); Deliver and Consumer are
	// the unpartitioned stream's.
	Partitions []PartitionResources
	// AttemptPartitions are the configured attempt partition streams, each
	// with the log writers' consumer (none when the config is not
	// partitioned); Attempts and LogConsumer are WEBHOOKS_ATTEMPTS's.
	AttemptPartitions []PartitionResources
	// Overflow is the overflow stream and the deliverers' consumer of each
	// of its lanes.
	Overflow PartitionResources
}

// Ensure creates every stream, the consumer and the secrets bucket, or
// updates them to the configured settings. It is idempotent and safe to run
// from many processes at once.
func Ensure(ctx context.Context, js jetstream.JetStream, c Config) (*Resources, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var r Resources
	var err error
	if r.Deliver, err = js.CreateOrUpdateStream(ctx, c.DeliverStreamConfig()); err != nil {
		return nil, fmt.Errorf("streams: ensure %s: %w", c.DeliverStream, err)
	}
	if r.Undelivered, err = js.CreateOrUpdateStream(ctx, c.UndeliveredStreamConfig()); err != nil {
		return nil, fmt.Errorf("streams: ensure %s: %w", c.UndeliveredStream, err)
	}
	if r.Attempts, err = js.CreateOrUpdateStream(ctx, c.AttemptsStreamConfig()); err != nil {
		return nil, fmt.Errorf("streams: ensure %s: %w", c.AttemptsStream, err)
	}
	if r.LogConsumer, err = r.Attempts.CreateOrUpdateConsumer(ctx, c.LogConsumerConfig()); err != nil {
		return nil, fmt.Errorf("streams: ensure consumer %s: %w", c.LogConsumer, err)
	}
	if r.Consumer, err = r.Deliver.CreateOrUpdateConsumer(ctx, c.ConsumerConfig()); err != nil {
		return nil, consumerError(ctx, r.Deliver, c.Consumer, err)
	}
	if r.Waiter, err = r.Deliver.CreateOrUpdateConsumer(ctx, c.WaiterConsumerConfig()); err != nil {
		return nil, consumerError(ctx, r.Deliver, c.WaiterConsumer, err)
	}
	if r.Partitions, err = ensurePartitions(ctx, js, c); err != nil {
		return nil, err
	}
	if r.AttemptPartitions, err = ensureAttemptPartitions(ctx, js, c); err != nil {
		return nil, err
	}
	if r.Overflow, err = ensureOverflow(ctx, js, c); err != nil {
		return nil, err
	}
	if r.Secrets, err = js.CreateOrUpdateKeyValue(ctx, c.SecretsBucketConfig()); err != nil {
		return nil, fmt.Errorf("streams: ensure bucket %s: %w", c.SecretsBucket, err)
	}
	if r.Tokens, err = js.CreateOrUpdateKeyValue(ctx, c.TokensBucketConfig()); err != nil {
		return nil, fmt.Errorf("streams: ensure bucket %s: %w", c.TokensBucket, err)
	}
	if _, err = js.CreateOrUpdateObjectStore(ctx, c.ResultsBucketConfig()); err != nil {
		return nil, fmt.Errorf("streams: ensure object store %s: %w", c.ResultsBucket, err)
	}
	if r.Results, err = results.OpenBucket(ctx, js, c.ResultsBucket); err != nil {
		return nil, fmt.Errorf("streams: ensure object store %s: %w", c.ResultsBucket, err)
	}
	return &r, nil
}

// JetStream's error codes for a second consumer of a work queue's subjects
// (nats-server's JSConsumerWQConsumerNotUniqueErr and
// JSConsumerWQMultipleUnfilteredErr; nats.go names neither).
const (
	errCodeWQMultipleUnfiltered jetstream.ErrorCode = 10099
	errCodeWQConsumerNotUnique  jetstream.ErrorCode = 10100
)

// consumerError explains a consumer of the deliver stream that could not be
// created. The stream is a work queue, so JetStream refuses a second
// consumer of the same subjects: another set of processes (a running
// quickstart, with its own consumer names) already delivers from it. The
// error wraps ErrConsumerConflict and names the consumers it found.
func consumerError(ctx context.Context, stream jetstream.Stream, name string, err error) error {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || (apiErr.ErrorCode != errCodeWQConsumerNotUnique && apiErr.ErrorCode != errCodeWQMultipleUnfiltered) {
		return fmt.Errorf("streams: ensure consumer %s: %w", name, err)
	}
	var others []string
	names := stream.ConsumerNames(ctx)
	for n := range names.Name() {
		if n != name {
			others = append(others, n)
		}
	}
	return fmt.Errorf("%w: consumer %s cannot be added to the work-queue stream %s, which other processes already deliver from (consumers: %s; a running quickstart uses quickstart-*): run against a broker of your own, such as `go run ./cmd/quickstart -broker` or `nats-server -js`, with NATS_URL pointing at it: %v",
		ErrConsumerConflict, name, stream.CachedInfo().Config.Name, strings.Join(others, ", "), err)
}
