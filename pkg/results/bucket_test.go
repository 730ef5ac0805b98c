package results_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/results"
)

// newBucket starts a server, creates the results bucket and opens it.
func newBucket(t *testing.T) (*results.Bucket, context.Context) {
	t.Helper()
	s := jstest.Server(t)
	_, js := jstest.Connect(t, s)
	ctx := jstest.Context(t, 30*time.Second)
	if _, err := js.CreateOrUpdateObjectStore(ctx, results.BucketConfig("", 1)); err != nil {
		t.Fatal(err)
	}
	b, err := results.OpenBucket(ctx, js, "")
	if err != nil {
		t.Fatal(err)
	}
	return b, ctx
}

func TestBucketConfig(t *testing.T) {
	cfg := results.BucketConfig("", 0)
	if cfg.Bucket != "WEBHOOKS_RESULTS" || cfg.TTL != 7*24*time.Hour || cfg.Storage != jetstream.FileStorage || cfg.Replicas != 1 {
		t.Errorf("BucketConfig = %+v", cfg)
	}
	if cfg := results.BucketConfig("R", 3); cfg.Bucket != "R" || cfg.Replicas != 3 {
		t.Errorf("BucketConfig(R, 3) = %+v", cfg)
	}
}

func TestPutExists(t *testing.T) {
	obs, ctx := newBucket(t)
	key := results.RowsKey("org_1", "run_1")
	if ok, err := results.Exists(ctx, obs, key); ok || err != nil {
		t.Fatalf("Exists before Put = %v, %v; want false, nil", ok, err)
	}
	if err := results.Put(ctx, obs, key, strings.NewReader(`[{"a":1}]`), "application/json"); err != nil {
		t.Fatal(err)
	}
	if ok, err := results.Exists(ctx, obs, key); !ok || err != nil {
		t.Errorf("Exists after Put = %v, %v; want true, nil", ok, err)
	}
	if err := results.Put(ctx, obs, "", strings.NewReader("x"), ""); !errors.Is(err, results.ErrNoKey) {
		t.Errorf("Put with no key = %v, want ErrNoKey", err)
	}
}
