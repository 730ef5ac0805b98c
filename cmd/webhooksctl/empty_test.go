package main

import (
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/sqlitestore"
	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/internal/status"
	"github.com/sixtyfour-oss/webhooks/internal/undelivered"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// TestFirstUseOnAnEmptyServer runs webhooksctl against a server on which
// no deliverer or publisher has run: no stream and no bucket exist. The
// read-only commands find nothing (and create nothing); secrets create
// makes the bucket it needs.
func TestFirstUseOnAnEmptyServer(t *testing.T) {
	s := jstest.Server(t)
	_, js := jstest.Connect(t, s)
	ctx := jstest.Context(t, 30*time.Second)
	t.Setenv("NATS_URL", s.ClientURL())
	t.Setenv("WEBHOOKS_MASTER_KEY", "k1:"+base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
	path := filepath.Join(t.TempDir(), "deliveries.db")
	t.Setenv("LOG_STORE_URL", "sqlite:"+path)
	store, err := sqlitestore.Open(ctx, path, logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store.Close()
	const unknown = "00000000-0000-4000-8000-000000000000"

	for _, tc := range []struct {
		args    []string
		code    int
		wantErr error // for code 1
	}{
		{[]string{"secrets", "show", "--org", "org_a"}, 1, secrets.ErrNoSecret},
		{[]string{"secrets", "roll", "--org", "org_a"}, 1, secrets.ErrNoSecret},
		{[]string{"secrets", "delete", "--org", "org_a", "--yes"}, 1, secrets.ErrNoSecret},
		{[]string{"secrets", "reencrypt"}, 0, nil},
		{[]string{"undelivered", "list"}, 0, nil},
		{[]string{"undelivered", "list", "--json"}, 0, nil},
		{[]string{"undelivered", "show", unknown}, 1, undelivered.ErrNotFound},
		{[]string{"undelivered", "replay", "--yes"}, 0, nil},
		{[]string{"undelivered", "purge", "--all", "--yes"}, 0, nil},
		{[]string{"status", "--event-id", unknown}, 1, status.ErrNotFound},
	} {
		r := ctl(t, "", tc.args...).want(t, tc.code)
		if tc.wantErr != nil && !errors.Is(r.err, tc.wantErr) {
			t.Errorf("webhooksctl %q: error %v, want %v", tc.args, r.err, tc.wantErr)
		}
	}
	sc := streams.Config{}.WithDefaults()
	if _, err := js.KeyValue(ctx, sc.SecretsBucket); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Errorf("after the read-only commands, bucket %s: %v, want it not created", sc.SecretsBucket, err)
	}
	names := js.StreamNames(ctx)
	for name := range names.Name() {
		t.Errorf("a read-only command created stream %s", name)
	}

	r := ctl(t, "", "secrets", "create", "--org", "org_a").want(t, 0)
	if !secretLine.MatchString(r.stdout) {
		t.Fatalf("create stdout = %q, want the secret alone on one line", r.stdout)
	}
	r = ctl(t, "", "secrets", "show", "--org", "org_a").want(t, 0)
	if !strings.Contains(r.stdout, "active") {
		t.Errorf("show after create:\n%s", r.stdout)
	}
}
