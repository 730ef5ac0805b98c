package deliver

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

func TestPoisonMessagesAreDeadLettered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streamsConfig())
	rc := newReceiver(t, nil)
	h.start(Config{}, nil)
	ctx := jstest.Context(t, 20*time.Second)

	valid, err := envelope.NewJobRequest(time.Now(), "org_1", rc.URL, jobResult("t"))
	if err != nil {
		t.Fatal(err)
	}
	validJSON, _ := valid.Encode()
	tests := []struct {
		name, subject, msgID string
		data                 []byte
		reason               string
	}{
		{"not json", "webhooks.deliver.org_1.job", "p1", []byte("{not json"), "malformed"},
		{"unknown version", "webhooks.deliver.org_1.job", "p2", []byte(`{"v":9}`), "unknown delivery request version"},
		{"missing fields", "webhooks.deliver.org_1.job", "p3", []byte(`{"v":1,"org_id":"org_1"}`), "event_id: required"},
		{"wrong subject", "webhooks.deliver.org_2.job", valid.EventID, validJSON, "published on subject"},
		{"empty", "webhooks.deliver.org_1.workflow", "", nil, "malformed"},
	}
	for _, tt := range tests {
		msg := nats.NewMsg(tt.subject)
		msg.Data = tt.data
		if tt.msgID != "" {
			msg.Header.Set(nats.MsgIdHdr, tt.msgID)
		}
		ack, err := h.js.PublishMsg(ctx, msg)
		if err != nil {
			t.Fatal(err)
		}
		tt := tt
		t.Run(tt.name, func(t *testing.T) {
			org, source := strings.Split(tt.subject, ".")[2], envelope.Source(strings.Split(tt.subject, ".")[3])
			id := tt.msgID
			if id == "" {
				id = "seq-" + strconv.FormatUint(ack.Sequence, 10)
			}
			var dl *jetstream.RawStreamMsg
			jstest.Eventually(t, 5*time.Second, func() bool { dl = h.undelivered(ctx, org, source, id); return dl != nil }, "dead letter of %s", tt.name)
			if string(dl.Data) != string(tt.data) {
				t.Errorf("dead letter body = %q, want the unchanged %q", dl.Data, tt.data)
			}
			failure, err := envelope.DecodeOutcome([]byte(dl.Header.Get(envelope.HeaderFailure)))
			if err != nil || !strings.Contains(failure.Error, tt.reason) || failure.Attempts != 1 {
				t.Errorf("failure = %+v (%v), want reason containing %q after 1 attempt", failure, err, tt.reason)
			}
		})
	}
	jstest.Eventually(t, 5*time.Second, func() bool { return h.pending(ctx) == 0 }, "WEBHOOKS drained")
	if rc.count() != 0 {
		t.Errorf("receiver got %d requests from poison messages", rc.count())
	}
	// The deliverer is still delivering.
	if _, err := h.pub.PublishJob(ctx, "org_1", rc.URL, jobResult("after")); err != nil {
		t.Fatal(err)
	}
	jstest.Eventually(t, 5*time.Second, func() bool { return rc.count() == 1 }, "delivery after poison")
}

func TestRefusedDestinationIsTerminal(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streamsConfig())
	rc := newReceiver(t, nil)
	// The publisher allows loopback; this deliverer's guard does not.
	cfg := Config{Streams: h.streams, URLs: envelope.URLPolicy{AllowHTTP: true}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d, err := New(ctx, h.js, egress.NewClient(egress.Policy{}, egress.ClientConfig{}), nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	go d.Run(ctx)
	receipt, err := h.pub.PublishJob(ctx, "org_1", rc.URL, jobResult("t"))
	if err != nil {
		t.Fatal(err)
	}
	o := h.finalOutcome("org_1", envelope.SourceJob, receipt.EventID, 5*time.Second)
	if o.State != envelope.StateUndelivered || o.Attempts != 1 || !strings.Contains(o.Error, "destination refused") {
		t.Errorf("outcome = %+v", o)
	}
	if rc.count() != 0 {
		t.Errorf("refused destination got %d requests", rc.count())
	}
}

func TestFailClosedWhenSecretUnavailable(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streamsConfig())
	rc := newReceiver(t, nil)
	unavailable := secretsFunc(func(string, time.Time) ([]string, error) {
		return nil, errors.New("secret store unreachable")
	})
	h.start(Config{}, unavailable)
	ctx := jstest.Context(t, 10*time.Second)
	receipt, err := h.pub.PublishJob(ctx, "org_1", rc.URL, jobResult("t"))
	if err != nil {
		t.Fatal(err)
	}
	o := h.finalOutcome("org_1", envelope.SourceJob, receipt.EventID, 5*time.Second)
	if rc.count() != 0 {
		t.Errorf("%d unsigned deliveries sent while the secret was unavailable", rc.count())
	}
	if o.State != envelope.StateUndelivered || o.Attempts != 6 || !strings.Contains(o.Error, "signing secret unavailable") {
		t.Errorf("outcome = %+v", o)
	}
}

func TestInterruptedLastAttemptIsDeadLettered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streamsConfig())
	rc := newReceiver(t, func(int, *http.Request) int { return http.StatusOK })
	ctx := jstest.Context(t, 30*time.Second)
	receipt, err := h.pub.PublishJob(ctx, "org_1", rc.URL, jobResult("t"))
	if err != nil {
		t.Fatal(err)
	}
	// Six deliveries that end without a decision, as if six deliverers
	// had died mid-attempt: the schedule is spent.
	cons, err := h.js.Consumer(ctx, h.streams.DeliverStream, h.streams.Consumer)
	if err != nil {
		t.Fatal(err)
	}
	for range 6 {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if err := msg.Nak(); err != nil {
			t.Fatal(err)
		}
	}
	h.start(Config{}, nil)
	o := h.finalOutcome("org_1", envelope.SourceJob, receipt.EventID, 5*time.Second)
	if o.State != envelope.StateUndelivered || !strings.Contains(o.Error, "interrupted") {
		t.Errorf("outcome = %+v", o)
	}
	if rc.count() != 0 {
		t.Errorf("a spent event was sent again (%d requests)", rc.count())
	}
	if h.undelivered(ctx, "org_1", envelope.SourceJob, receipt.EventID) == nil {
		t.Error("event not in the undelivered stream")
	}
	jstest.Eventually(t, 5*time.Second, func() bool { return h.pending(ctx) == 0 }, "WEBHOOKS drained")
}

func TestDeadLetteringTwiceIsHarmless(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streamsConfig())
	ctx := jstest.Context(t, 10*time.Second)
	d, err := New(ctx, h.js, egress.NewClient(loopbackOnly, egress.ClientConfig{}), nil, Config{Streams: h.streams})
	if err != nil {
		t.Fatal(err)
	}
	failure := &envelope.Outcome{V: 1, EventID: "0b7e2f7c-3c1a-4c55-9a43-1f2d3e4c5b6a", OrgID: "org_1", Source: envelope.SourceJob, State: envelope.StateUndelivered}
	// A second write of the same round is what a deliverer does after dying
	// between the dead-letter publish and the Term: caught by the
	// Nats-Msg-Id dedupe inside the window, and by the one-message-per-
	// subject rule after it. A later round (a replay that failed again
	// before the replayer removed the old record) replaces the stale record;
	// an earlier round never replaces a newer one.
	subject := h.streams.UndeliveredSubject("org_1", envelope.SourceJob, failure.EventID)
	for i, w := range []struct{ replay, stored int }{{0, 0}, {0, 0}, {5, 5}, {3, 5}} {
		f := *failure
		f.Replay = w.replay
		ev := event{msg: fakeMsg{data: []byte(`{"v":1}`)}, replay: w.replay}
		if err := d.deadLetter(ctx, ev, &f); err != nil {
			t.Fatalf("dead-letter write %d: %v", i+1, err)
		}
		raw, err := h.res.Undelivered.GetLastMsgForSubject(ctx, subject)
		if err != nil {
			t.Fatal(err)
		}
		stored, _ := envelope.DecodeOutcome([]byte(raw.Header.Get(envelope.HeaderFailure)))
		if stored.Replay != w.stored {
			t.Errorf("write %d (replay %d): stored record has replay %d, want %d", i+1, w.replay, stored.Replay, w.stored)
		}
	}
	info, err := h.res.Undelivered.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("undelivered stream holds %d messages, want 1", info.State.Msgs)
	}
}

// fakeMsg is a jetstream.Msg that only carries data.
type fakeMsg struct {
	jetstream.Msg
	data []byte
}

func (m fakeMsg) Data() []byte { return m.data }
