package results

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of the results bucket.
const (
	// DefaultBucket is the Object Store bucket of workflow results.
	DefaultBucket = "WEBHOOKS_RESULTS"
	// DefaultMaxAge is how long a result object is kept after it is put: 7
	// days. It bounds how late a download link can still be signed for it
	// (an event replayed later gets a link to a missing object: 404).
	DefaultMaxAge = 7 * 24 * time.Hour
)

// ErrNoKey is returned by Put and Exists for an empty object key.
var ErrNoKey = errors.New("results: empty object key")

// BucketConfig is the results Object Store bucket: file storage, objects
// removed DefaultMaxAge (7 days) after they were put, the given replica
// count (0 means 1). An empty name means DefaultBucket. Pass it to
// jetstream.JetStream.CreateOrUpdateObjectStore, which is idempotent.
func BucketConfig(name string, replicas int) jetstream.ObjectStoreConfig {
	if name == "" {
		name = DefaultBucket
	}
	if replicas <= 0 {
		replicas = 1
	}
	return jetstream.ObjectStoreConfig{
		Bucket:      name,
		Description: "Workflow results behind results_download_url: previous-block CSVs and rows too large to inline",
		TTL:         DefaultMaxAge,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	}
}

// Put stores everything r yields as the object key, replacing any object of
// that name, with contentType (such as "text/csv; charset=utf-8") as its
// Content-Type header; an empty contentType stores none and the handler
// serves a type guessed from the key's extension. It sends r in chunks as
// it reads them (not whole) and returns once JetStream has stored them all.
// Errors: ErrNoKey, or the store's error wrapped with the key.
func Put(ctx context.Context, obs jetstream.ObjectStore, key string, r io.Reader, contentType string) error {
	if key == "" {
		return ErrNoKey
	}
	meta := jetstream.ObjectMeta{Name: key}
	if contentType != "" {
		meta.Headers = nats.Header{}
		meta.Headers.Set("Content-Type", contentType)
	}
	if _, err := obs.Put(ctx, meta, r); err != nil {
		return fmt.Errorf("results: put %s: %w", key, err)
	}
	return nil
}

// Exists reports whether the object key is in the store (and not deleted).
// A missing object is (false, nil); any other failure is an error wrapping
// the store's.
func Exists(ctx context.Context, obs jetstream.ObjectStore, key string) (bool, error) {
	if key == "" {
		return false, ErrNoKey
	}
	_, err := obs.GetInfo(ctx, key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrObjectNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("results: look up %s: %w", key, err)
	}
}
