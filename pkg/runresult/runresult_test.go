package runresult_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/runresult"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

const (
	org   = "org_456"
	event = "f7c2a4e0-9b5d-4a1f-8d2c-1e3b5f7a9c0d"
)

type env struct {
	js       jetstream.JetStream
	res      *streams.Resources
	attempts *int // attempts recorded so far
}

func setup(t *testing.T) env {
	t.Helper()
	s := jstest.Server(t)
	_, js := jstest.Connect(t, s)
	res, err := streams.Ensure(jstest.Context(t, 10*time.Second), js, streams.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return env{js: js, res: res, attempts: new(int)}
}

// write records the next attempt the way the deliverer does, block
// columns on final records.
func (e env) write(t *testing.T, orgID, state string, status int, body string) {
	t.Helper()
	*e.attempts++
	decision := map[string]string{envelope.StateRetrying: envelope.DecisionRetry,
		envelope.StateDelivered: envelope.DecisionDelivered, envelope.StateUndelivered: envelope.DecisionUndelivered}[state]
	now := time.Now().UTC()
	r := &envelope.AttemptRecord{
		V: 1, EventID: event, OrgID: orgID, Source: envelope.SourceWorkflow, EventType: envelope.WorkflowEventType,
		RunID: "run_xyz789", WorkflowID: "wf_abc123", Host: "hooks.example.com", Attempt: *e.attempts,
		QueuedAt: now, StartedAt: now, FinishedAt: now, Sent: true, StatusCode: status,
		ResponseExcerpt: envelope.Excerpt([]byte(body)), Decision: decision, State: state, Final: state != envelope.StateRetrying,
	}
	r.SetBlockColumns()
	jstest.WriteAttempt(jstest.Context(t, 5*time.Second), t, e.js, streams.Config{}, r)
}

func (e env) consumers(t *testing.T) int {
	t.Helper()
	info, err := e.res.Attempts.Info(jstest.Context(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Consumers - 1 // the log writers' durable consumer stays
}

type awaited struct {
	cols runresult.Columns
	o    *envelope.Outcome
	err  error
	at   time.Time
}

func TestAwaitWakesOnFinalWrite(t *testing.T) {
	e := setup(t)
	e.write(t, org, envelope.StateRetrying, 503, "busy")
	done := make(chan awaited, 1)
	go func() {
		c, o, err := runresult.Await(jstest.Context(t, 30*time.Second), e.js, streams.Config{}, org, event)
		done <- awaited{c, o, err, time.Now()}
	}()
	// Await is watching once its consumer exists on the outcome stream.
	jstest.Eventually(t, 5*time.Second, func() bool { return e.consumers(t) == 1 }, "Await's consumer")
	e.write(t, org, envelope.StateRetrying, 500, "still busy")
	e.write(t, "org_other", envelope.StateDelivered, 204, "") // another org's event with the same id
	select {
	case r := <-done:
		t.Fatalf("Await returned on a record that is not final: %+v, %v", r.cols, r.err)
	default:
	}
	written := time.Now()
	e.write(t, org, envelope.StateDelivered, 200, `{"ok":true}`)
	var r awaited
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Await did not return after the final write")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := runresult.Columns{StatusCode: 200, Response: `{"ok":true}`, Success: true}
	if r.cols != want || r.o.State != envelope.StateDelivered || r.o.OrgID != org {
		t.Errorf("Await = %+v, state %s, org %s; want %+v, delivered, %s", r.cols, r.o.State, r.o.OrgID, want, org)
	}
	t.Logf("Await returned %v after the final write", r.at.Sub(written))
	if d := r.at.Sub(written); d > 2*time.Second {
		t.Errorf("Await took %v after the final write, want it woken by the write", d)
	}
	jstest.Eventually(t, 5*time.Second, func() bool { return e.consumers(t) == 0 }, "Await's consumer removed")
}

func TestAwaitFinalAlreadyWritten(t *testing.T) {
	e := setup(t)
	e.write(t, org, envelope.StateUndelivered, 0, "")
	cols, o, err := runresult.Await(jstest.Context(t, 10*time.Second), e.js, streams.Config{}, org, event)
	if err != nil || cols != (runresult.Columns{}) || o.State != envelope.StateUndelivered {
		t.Errorf("Await = %+v, %+v, %v; want zero columns of an undelivered outcome", cols, o, err)
	}
}

func TestAwaitContext(t *testing.T) {
	e := setup(t)
	e.write(t, org, envelope.StateRetrying, 503, "busy")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, o, err := runresult.Await(ctx, e.js, streams.Config{}, org, event)
	if !errors.Is(err, context.DeadlineExceeded) || o != nil {
		t.Errorf("Await = %+v, %v; want context.DeadlineExceeded", o, err)
	}
	jstest.Eventually(t, 5*time.Second, func() bool { return e.consumers(t) == 0 }, "Await's consumer removed")
}

func TestAwaitMalformedRecord(t *testing.T) {
	e := setup(t)
	msg := nats.NewMsg(streams.Config{}.WithDefaults().AttemptSubject(org, envelope.SourceWorkflow))
	msg.Data = []byte("not json")
	msg.Header.Set(envelope.HeaderRecordEventID, event)
	if _, err := e.js.PublishMsg(jstest.Context(t, 5*time.Second), msg); err != nil {
		t.Fatal(err)
	}
	_, _, err := runresult.Await(jstest.Context(t, 10*time.Second), e.js, streams.Config{}, org, event)
	if !errors.Is(err, envelope.ErrMalformed) {
		t.Errorf("Await = %v, want envelope.ErrMalformed", err)
	}
}

func TestLookup(t *testing.T) {
	e := setup(t)
	ctx := jstest.Context(t, 10*time.Second)
	check := func(name string, wantCols runresult.Columns, wantState string, wantFinal bool) {
		t.Helper()
		cols, o, final, err := runresult.Lookup(ctx, e.js, streams.Config{}, org, event)
		state := ""
		if o != nil {
			state = o.State
		}
		if err != nil || cols != wantCols || state != wantState || final != wantFinal {
			t.Errorf("%s: Lookup = %+v, state %q, final %v, %v; want %+v, %q, %v", name, cols, state, final, err, wantCols, wantState, wantFinal)
		}
	}
	check("no outcome", runresult.Columns{}, "", false)
	e.write(t, org, envelope.StateRetrying, 503, "busy")
	check("retrying", runresult.Columns{}, envelope.StateRetrying, false)
	e.write(t, org, envelope.StateUndelivered, 500, "boom")
	check("undelivered", runresult.Columns{StatusCode: 500, Response: "boom"}, envelope.StateUndelivered, true)
}

func TestInvalidIDs(t *testing.T) {
	e := setup(t)
	ctx := jstest.Context(t, 10*time.Second)
	for _, tt := range []struct{ name, org, event string }{
		{"org with a dot", "org.1", event},
		{"wildcard org", "*", event},
		{"event not a uuid", org, "evt_1"},
		{"uppercase uuid", org, strings.ToUpper(event)},
		{"event wildcard", org, ">"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := runresult.Await(ctx, e.js, streams.Config{}, tt.org, tt.event); !errors.Is(err, runresult.ErrInvalidID) {
				t.Errorf("Await = %v, want ErrInvalidID", err)
			}
			if _, _, _, err := runresult.Lookup(ctx, e.js, streams.Config{}, tt.org, tt.event); !errors.Is(err, runresult.ErrInvalidID) {
				t.Errorf("Lookup = %v, want ErrInvalidID", err)
			}
		})
	}
}

func TestColumnsOf(t *testing.T) {
	long := strings.Repeat("é", 2000) // 4,000 bytes
	code, resp, ok := 201, "from columns", true
	tests := []struct {
		name string
		o    envelope.Outcome
		want runresult.Columns
	}{
		{"block columns", envelope.Outcome{StatusCode: 500, WebhookStatusCode: &code, WebhookResponse: &resp, WebhookSuccess: &ok},
			runresult.Columns{StatusCode: 201, Response: "from columns", Success: true}},
		{"record without them", envelope.Outcome{StatusCode: 204, Success: true},
			runresult.Columns{StatusCode: 204, Success: true}},
		{"long response cut", envelope.Outcome{StatusCode: 500, ResponseExcerpt: long},
			runresult.Columns{StatusCode: 500, Response: strings.Repeat("é", 1024)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := runresult.ColumnsOf(&tt.o); got != tt.want {
				t.Errorf("ColumnsOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}
