package streams_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

func TestEnsureIsIdempotentAndApplies(t *testing.T) {
	s := jstest.Server(t)
	_, js := jstest.Connect(t, s)
	ctx := jstest.Context(t, 10*time.Second)
	for range 2 {
		if _, err := streams.Ensure(ctx, js, streams.Config{}); err != nil {
			t.Fatal(err)
		}
	}
	// A changed setting is applied on the next start.
	res, err := streams.Ensure(ctx, js, streams.Config{AckWait: 45 * time.Second, DuplicateWindow: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ci, err := res.Consumer.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ci.Config.AckWait != 45*time.Second || ci.Config.MaxDeliver != -1 || len(ci.Config.BackOff) != 0 || ci.Config.AckPolicy != jetstream.AckExplicitPolicy {
		t.Errorf("consumer config = %+v", ci.Config)
	}
	si, err := res.Deliver.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if si.Config.Retention != jetstream.WorkQueuePolicy || si.Config.Discard != jetstream.DiscardNew || si.Config.Duplicates != 5*time.Minute {
		t.Errorf("WEBHOOKS config = %+v", si.Config)
	}
	ui, err := res.Undelivered.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !ui.Config.DiscardNewPerSubject || ui.Config.MaxMsgsPerSubject != 1 || ui.Config.MaxAge != streams.DefaultUndeliveredMaxAge {
		t.Errorf("WEBHOOKS_UNDELIVERED config = %+v", ui.Config)
	}
}

func TestSubjects(t *testing.T) {
	c := streams.Config{}.WithDefaults()
	tests := []struct{ got, want string }{
		{c.DeliverSubject("org_1", envelope.SourceJob), "webhooks.deliver.org_1.job"},
		{c.UndeliveredSubject("org_1", envelope.SourceWorkflow, "e1"), "webhooks.undelivered.org_1.workflow.e1"},
		{c.AttemptSubject("org_1", envelope.SourceJob), "webhooks.attempt.org_1.job"},
		{c.AttemptFilter("org_1", ""), "webhooks.attempt.org_1.*"},
		{c.AttemptFilter("", envelope.SourceWorkflow), "webhooks.attempt.*.workflow"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  streams.Config
	}{
		{"replicas", streams.Config{Replicas: 7}},
		{"ack wait", streams.Config{AckWait: time.Millisecond}},
		{"stream name", streams.Config{DeliverStream: "WEB HOOKS"}},
		{"prefix", streams.Config{SubjectPrefix: "a.b"}},
		{"attempt buffer under a minute", streams.Config{AttemptsMaxAge: time.Second}},
		{"negative partitions", streams.Config{Partitions: -1}},
		{"too many partitions", streams.Config{Partitions: streams.MaxPartitions + 1}},
	}
	for _, tt := range tests {
		if err := tt.cfg.WithDefaults().Validate(); !errors.Is(err, streams.ErrInvalidConfig) {
			t.Errorf("%s: error = %v, want ErrInvalidConfig", tt.name, err)
		}
	}
	if err := (streams.Config{}).WithDefaults().Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
}
