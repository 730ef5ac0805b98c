package deliver

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/version"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

const testSecret = "sk_whsec_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// checkCommonHeaders asserts the headers every delivery carries.
func checkCommonHeaders(t *testing.T, got received, eventID, eventType string, attempt int) {
	t.Helper()
	want := map[string]string{
		"Content-Type":   "application/json",
		"User-Agent":     version.UserAgent,
		HeaderEventID:    eventID,
		HeaderEventType:  eventType,
		HeaderAttempt:    strconv.Itoa(attempt),
		"Content-Length": strconv.Itoa(len(got.body)),
	}
	for k, v := range want {
		if g := got.header.Get(k); g != v {
			t.Errorf("header %s = %q, want %q", k, g, v)
		}
	}
}

func TestDeliversJobExactly(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streamsConfig())
	rc := newReceiver(t, nil)
	h.start(Config{}, staticSecrets(testSecret))
	ctx := jstest.Context(t, 10*time.Second)

	job := jobResult("task-1")
	receipt, err := h.pub.PublishJob(ctx, "org_1", rc.URL+"/hooks", job)
	if err != nil {
		t.Fatal(err)
	}
	jstest.Eventually(t, 5*time.Second, func() bool { return rc.count() == 1 }, "one delivery")
	got := rc.requests()[0]
	want, _ := job.Body()
	if string(got.body) != string(want) {
		t.Errorf("body\n got %s\nwant %s", got.body, want)
	}
	checkCommonHeaders(t, got, receipt.EventID, "find_email", 1)
	if err := sign.Verify(got.header.Get(sign.HeaderName), got.body, []string{testSecret}, time.Now(), 0); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	o := h.finalOutcome("org_1", envelope.SourceJob, receipt.EventID, 5*time.Second)
	if o.State != envelope.StateDelivered || !o.Success || o.Attempts != 1 || o.StatusCode != 204 || o.TaskID != "task-1" {
		t.Errorf("outcome = %+v", o)
	}
	jstest.Eventually(t, 5*time.Second, func() bool { return h.pending(ctx) == 0 }, "WEBHOOKS drained")
}

func TestDeliversWorkflowRunExactly(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streamsConfig())
	rc := newReceiver(t, nil)
	h.start(Config{}, staticSecrets(testSecret))
	ctx := jstest.Context(t, 10*time.Second)

	run := workflowRun("run_1")
	run.StartedAt = time.Now().Add(-1500 * time.Millisecond)
	receipt, err := h.pub.PublishWorkflow(ctx, "org_1", rc.URL, run, envelope.Block{
		Headers: map[string]string{"X-Customer-Token": "abc"}, TimeoutSeconds: 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	jstest.Eventually(t, 5*time.Second, func() bool { return rc.count() == 1 }, "one delivery")
	got := rc.requests()[0]
	checkCommonHeaders(t, got, receipt.EventID, envelope.WorkflowEventType, 1)
	if g := got.header.Get("X-Customer-Token"); g != "abc" {
		t.Errorf("extra header = %q, want abc", g)
	}
	if err := sign.Verify(got.header.Get(sign.HeaderName), got.body, []string{testSecret}, time.Now(), 0); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	var env envelope.WorkflowEnvelope
	if err := json.Unmarshal(got.body, &env); err != nil {
		t.Fatal(err)
	}
	// Re-encoding what was received gives the same bytes: the field order
	// and format are the envelope's.
	if again, _ := env.Body(); string(again) != string(got.body) {
		t.Errorf("body is not in envelope form:\n got %s\nwant %s", got.body, again)
	}
	sent, err := time.Parse(time.RFC3339, env.CompletedAt)
	if err != nil || sent.Sub(got.at).Abs() > 2*time.Second {
		t.Errorf("completed_at = %q (received at %v)", env.CompletedAt, got.at)
	}
	if env.EventID != receipt.EventID || env.OrganizationID != "org_1" || env.Attempt != 1 ||
		env.RunID != "run_1" || env.DurationMS < 1500 || env.DurationMS > 10000 || string(env.Results) != `[{"name":"John Doe"}]` {
		t.Errorf("envelope = %+v", env)
	}
	o := h.finalOutcome("org_1", envelope.SourceWorkflow, receipt.EventID, 5*time.Second)
	if o.WebhookStatusCode == nil || *o.WebhookStatusCode != 204 || o.WebhookSuccess == nil || !*o.WebhookSuccess || o.RunID != "run_1" {
		t.Errorf("block columns = %+v", o)
	}
}

func TestUnsignedWithoutSecret(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streamsConfig())
	rc := newReceiver(t, nil)
	h.start(Config{}, nil)
	ctx := jstest.Context(t, 10*time.Second)
	if _, err := h.pub.PublishJob(ctx, "org_1", rc.URL, jobResult("t")); err != nil {
		t.Fatal(err)
	}
	jstest.Eventually(t, 5*time.Second, func() bool { return rc.count() == 1 }, "one delivery")
	got := rc.requests()[0]
	if s := got.header.Get(sign.HeaderName); s != "" {
		t.Errorf("unsigned delivery carries %s: %q", sign.HeaderName, s)
	}
	checkCommonHeaders(t, got, got.header.Get(HeaderEventID), "find_email", 1)
}

func TestRetriesEveryAttemptThenUndelivered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streamsConfig())
	rc := newReceiver(t, func(int, *http.Request) int { return http.StatusInternalServerError })
	h.start(Config{}, staticSecrets(testSecret))
	ctx := jstest.Context(t, 20*time.Second)

	req, err := envelope.NewWorkflowRequest(time.Now(), "org_1", rc.URL, workflowRun("run_9"), envelope.Block{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.pub.Publish(ctx, req); err != nil {
		t.Fatal(err)
	}
	o := h.finalOutcome("org_1", envelope.SourceWorkflow, req.EventID, 10*time.Second)
	got := rc.requests()
	if len(got) != 6 {
		t.Fatalf("got %d attempts, want 6", len(got))
	}
	for i, r := range got {
		attempt := i + 1
		checkCommonHeaders(t, r, req.EventID, envelope.WorkflowEventType, attempt)
		if err := sign.Verify(r.header.Get(sign.HeaderName), r.body, []string{testSecret}, time.Now(), 0); err != nil {
			t.Errorf("attempt %d: signature does not verify: %v", attempt, err)
		}
		var env envelope.WorkflowEnvelope
		if err := json.Unmarshal(r.body, &env); err != nil || env.Attempt != attempt {
			t.Errorf("attempt %d: body attempt = %d (%v)", attempt, env.Attempt, err)
		}
	}
	if o.State != envelope.StateUndelivered || o.Success || o.Attempts != 6 || o.StatusCode != 500 ||
		o.FirstAttemptAt.After(o.LastAttemptAt) || o.FirstAttemptAt.IsZero() {
		t.Errorf("outcome = %+v", o)
	}
	if o.WebhookStatusCode == nil || *o.WebhookStatusCode != 500 || *o.WebhookSuccess {
		t.Errorf("block columns = %+v", o)
	}

	dl := h.undelivered(ctx, "org_1", envelope.SourceWorkflow, req.EventID)
	if dl == nil {
		t.Fatal("event not in the undelivered stream")
	}
	want, _ := req.Encode()
	if string(dl.Data) != string(want) {
		t.Errorf("undelivered body is not the unchanged request:\n got %s\nwant %s", dl.Data, want)
	}
	failure, err := envelope.DecodeOutcome([]byte(dl.Header.Get(envelope.HeaderFailure)))
	if err != nil || failure.Attempts != 6 || failure.StatusCode != 500 || failure.Error == "" || failure.LastAttemptAt.IsZero() {
		t.Errorf("failure record = %+v (%v)", failure, err)
	}
	jstest.Eventually(t, 5*time.Second, func() bool { return h.pending(ctx) == 0 }, "WEBHOOKS drained")
}

func TestRetryThenDelivered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streamsConfig())
	rc := newReceiver(t, func(n int, _ *http.Request) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	h.start(Config{}, staticSecrets(testSecret))
	ctx := jstest.Context(t, 10*time.Second)
	receipt, err := h.pub.PublishJob(ctx, "org_1", rc.URL, jobResult("t"))
	if err != nil {
		t.Fatal(err)
	}
	o := h.finalOutcome("org_1", envelope.SourceJob, receipt.EventID, 5*time.Second)
	if o.State != envelope.StateDelivered || o.Attempts != 3 || o.StatusCode != 200 || !o.FirstAttemptAt.Before(o.LastAttemptAt) {
		t.Errorf("outcome = %+v", o)
	}
	for i, r := range rc.requests() {
		checkCommonHeaders(t, r, receipt.EventID, "find_email", i+1)
	}
	if dl := h.undelivered(ctx, "org_1", envelope.SourceJob, receipt.EventID); dl != nil {
		t.Error("delivered event is in the undelivered stream")
	}
}
