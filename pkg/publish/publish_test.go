package publish_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// publicResolver answers every lookup with a public address, so tests
// never depend on real DNS.
type publicResolver struct{}

func (publicResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
}

func setup(t *testing.T) (*publish.Publisher, *streams.Resources, func()) {
	t.Helper()
	s := jstest.Server(t)
	_, js := jstest.Connect(t, s)
	res, err := streams.Ensure(jstest.Context(t, 10*time.Second), js, streams.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p := publish.New(js, publish.Config{Resolver: publicResolver{}, TryTimeout: 300 * time.Millisecond, Tries: 2})
	return p, res, s.Shutdown
}

func job() envelope.JobResult {
	return envelope.JobResult{TaskID: "t1", Status: envelope.StatusFailed, TaskType: "find_email", Error: "no email found"}
}

func TestPublishStoresOnce(t *testing.T) {
	p, res, _ := setup(t)
	ctx := jstest.Context(t, 10*time.Second)
	req, err := envelope.NewJobRequest(time.Now(), "org_1", "https://hooks.example.com/x", job())
	if err != nil {
		t.Fatal(err)
	}
	first, err := p.Publish(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// A publish retried after a timeout carries the same event id.
	again, err := p.Publish(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if first.Duplicate || !again.Duplicate || first.Sequence != again.Sequence || first.EventID != req.EventID {
		t.Errorf("receipts = %+v then %+v", first, again)
	}
	info, err := res.Deliver.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("stream holds %d messages, want 1", info.State.Msgs)
	}
	msg, err := res.Deliver.GetMsg(ctx, first.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "webhooks.deliver.org_1.job" || msg.Header.Get("Nats-Msg-Id") != req.EventID {
		t.Errorf("stored on %s with Nats-Msg-Id %q", msg.Subject, msg.Header.Get("Nats-Msg-Id"))
	}
	got, err := envelope.Decode(msg.Data, envelope.URLPolicy{})
	if err != nil || got.EventID != req.EventID || got.Job.Error != "no email found" {
		t.Errorf("stored request = %+v (%v)", got, err)
	}
}

func TestPublishRefusesBadInput(t *testing.T) {
	p, res, _ := setup(t)
	ctx := jstest.Context(t, 10*time.Second)
	tests := []struct {
		name, org, url, field string
	}{
		{"private literal", "org_1", "https://10.0.0.1/hook", "url"},
		{"metadata", "org_1", "https://169.254.169.254/latest", "url"},
		{"plain http", "org_1", "http://hooks.example.com/", "url"},
		{"bad org", "org 1", "https://hooks.example.com/", "org_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.PublishJob(ctx, tt.org, tt.url, job())
			var ve *envelope.ValidationError
			if !errors.As(err, &ve) || ve.Fields[0].Field != tt.field {
				t.Fatalf("error = %v, want a validation error on %s", err, tt.field)
			}
		})
	}
	info, _ := res.Deliver.Info(ctx)
	if info.State.Msgs != 0 {
		t.Errorf("stream holds %d messages after refused publishes", info.State.Msgs)
	}
}

func TestPublishAllowListReachesPrivateHost(t *testing.T) {
	s := jstest.Server(t)
	_, js := jstest.Connect(t, s)
	ctx := jstest.Context(t, 10*time.Second)
	if _, err := streams.Ensure(ctx, js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	allow, err := egress.ParseAllowList("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	p := publish.New(js, publish.Config{Destinations: allow})
	if _, err := p.PublishJob(ctx, "org_1", "https://10.1.2.3/hook", job()); err != nil {
		t.Errorf("allow-listed private destination refused: %v", err)
	}
}

func TestPublishUnavailable(t *testing.T) {
	p, _, shutdown := setup(t)
	shutdown()
	ctx := jstest.Context(t, 10*time.Second)
	_, err := p.PublishJob(ctx, "org_1", "https://hooks.example.com/", job())
	if !errors.Is(err, publish.ErrUnavailable) {
		t.Errorf("error = %v, want ErrUnavailable", err)
	}
}

func TestPublishTooLarge(t *testing.T) {
	p, _, _ := setup(t)
	ctx := jstest.Context(t, 10*time.Second)
	// A job result has no inline limit (workflow rows do: see results_test.go).
	big := envelope.JobResult{TaskID: "t1", Status: envelope.StatusCompleted, TaskType: "find_email",
		Result: []byte(`{"x":"` + strings.Repeat("x", 2<<20) + `"}`)}
	_, err := p.PublishJob(ctx, "org_1", "https://hooks.example.com/", big)
	if !errors.Is(err, publish.ErrTooLarge) {
		t.Errorf("error = %v, want ErrTooLarge", err)
	}
}
