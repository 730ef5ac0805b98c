package logwriter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// importBatch is how many legacy records one import transaction holds.
const importBatch = 1000

// ImportMarker names the store marker of the one-time import of
// WEBHOOKS_OUTCOMES.
const ImportMarker = "import:WEBHOOKS_OUTCOMES"

// ImportOutcomes copies the records of the legacy outcome stream
// (WEBHOOKS_OUTCOMES, the latest state of each event, written by releases
// before the delivery log) into the store, once: it does nothing when the
// store's ImportMarker is set, and sets it when done (or when there is no
// such stream). Each event becomes one round with one attempt row, its
// last (the stream kept only the latest state), without an error class
// (legacy records have none); rounds older than the
// store's retention are skipped. Writers that start together may both
// import: the writes are idempotent. It returns the records imported.
func ImportOutcomes(ctx context.Context, js jetstream.JetStream, store logstore.Store, sc streams.Config, log zerolog.Logger) (int, error) {
	sc = sc.WithDefaults()
	done, err := store.Marker(ctx, ImportMarker)
	if err != nil || done {
		return 0, err
	}
	stream, err := js.Stream(ctx, sc.OutcomesStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, store.SetMarker(ctx, ImportMarker)
	}
	if err != nil {
		return 0, fmt.Errorf("logwriter: import %s: %w", sc.OutcomesStream, err)
	}
	log.Info().Str("stream", sc.OutcomesStream).Uint64("records", stream.CachedInfo().State.Msgs).Msg("importing the legacy outcome records into the delivery log")
	n, skipped := 0, 0
	batch := make([]*envelope.AttemptRecord, 0, importBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := store.Write(ctx, batch); err != nil {
			return fmt.Errorf("logwriter: import %s: %w", sc.OutcomesStream, err)
		}
		n += len(batch)
		batch = batch[:0]
		return nil
	}
	var werr error
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{sc.OutcomeFilterAll()},
		DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy, InactiveThreshold: time.Minute}
	err = streams.Scan(ctx, stream, cfg, importBatch, func(msg jetstream.Msg, _ *jetstream.MsgMetadata) bool {
		o, err := envelope.DecodeOutcome(msg.Data())
		var r *envelope.AttemptRecord
		if err == nil {
			r, err = RecordFromOutcome(o)
		}
		if err != nil {
			skipped++
			log.Warn().Err(err).Str("subject", msg.Subject()).Msg("legacy outcome record cannot be imported; skipped")
			return true
		}
		if batch = append(batch, r); len(batch) == importBatch {
			werr = flush()
		}
		return werr == nil
	})
	if err == nil {
		err = werr
	}
	if err == nil {
		err = flush()
	}
	if err != nil {
		return n, err
	}
	log.Info().Int("imported", n).Int("skipped", skipped).Msg("legacy outcome records imported; WEBHOOKS_OUTCOMES is no longer written and may be deleted")
	return n, store.SetMarker(ctx, ImportMarker)
}

// RecordFromOutcome turns a legacy outcome into the attempt record of its
// last attempt, and checks it as the writer would.
func RecordFromOutcome(o *envelope.Outcome) (*envelope.AttemptRecord, error) {
	decision := map[string]string{envelope.StateDelivered: envelope.DecisionDelivered,
		envelope.StateRetrying: envelope.DecisionRetry, envelope.StateUndelivered: envelope.DecisionUndelivered}[o.State]
	started := o.LastAttemptAt
	if started.IsZero() {
		started = o.QueuedAt
	}
	r := &envelope.AttemptRecord{
		V: 1, EventID: o.EventID, OrgID: o.OrgID, Source: o.Source, EventType: o.EventType,
		TaskID: o.TaskID, RunID: o.RunID, WorkflowID: o.WorkflowID, Host: o.Host,
		Replay: o.Replay, Attempt: max(o.Attempts, 1), QueuedAt: o.QueuedAt, StartedAt: started, FinishedAt: started,
		Sent: !o.LastAttemptAt.IsZero(), StatusCode: o.StatusCode, ResponseExcerpt: o.ResponseExcerpt,
		Error: o.Error, Decision: decision, NextAttemptAt: o.NextAttemptAt, State: o.State, Final: o.Final,
		WebhookStatusCode: o.WebhookStatusCode, WebhookResponse: o.WebhookResponse, WebhookSuccess: o.WebhookSuccess,
	}
	data, err := r.Encode()
	if err != nil {
		return nil, err
	}
	return envelope.DecodeAttemptRecord(data) // the writer's checks
}
