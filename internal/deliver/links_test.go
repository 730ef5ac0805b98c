package deliver

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

// testSigner signs nothing: its URLs name the key and the send time, so a
// test can see that each attempt got a fresh one.
type testSigner struct{}

func (testSigner) URL(key string, now time.Time) string {
	return "https://downloads.test/v1/downloads/" + key + "?exp=" + strconv.FormatInt(now.Add(900*time.Second).UnixNano(), 10)
}

// linkRun is a workflow run asking for the CSV link.
func linkRun(runID string) envelope.WorkflowRun {
	r := workflowRun(runID)
	r.IncludeCSVDownloadLink = true
	r.ResultsObject = "org_1/" + runID + "/blk_2.csv"
	r.StartedAt = time.Now()
	return r
}

func envelopeOf(t *testing.T, r received) envelope.WorkflowEnvelope {
	t.Helper()
	var env envelope.WorkflowEnvelope
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatal(err)
	}
	return env
}

func TestCSVLinkPresentAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streamsConfig())
	rc := newReceiver(t, nil)
	h.start(Config{Links: Links{Store: h.res.Results, Signer: testSigner{}}}, nil)
	ctx := jstest.Context(t, 10*time.Second)
	run := linkRun("run_now")
	if _, err := h.res.Results.PutBytes(ctx, run.ResultsObject, []byte("name\nJohn\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.pub.PublishWorkflow(ctx, "org_1", rc.URL, run, envelope.Block{}); err != nil {
		t.Fatal(err)
	}
	jstest.Eventually(t, 5*time.Second, func() bool { return rc.count() == 1 }, "delivery")
	env := envelopeOf(t, rc.requests()[0])
	if env.ResultsDownloadURL == nil || !strings.Contains(*env.ResultsDownloadURL, run.ResultsObject) {
		t.Errorf("results_download_url = %v", env.ResultsDownloadURL)
	}
}

func TestCSVLinkWaitsWithoutAnAttempt(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streamsConfig())
	rc := newReceiver(t, nil)
	h.start(Config{Concurrency: 2, Links: Links{Store: h.res.Results, Signer: testSigner{}, Wait: 10 * time.Second, Poll: 100 * time.Millisecond}}, nil)
	ctx := jstest.Context(t, 20*time.Second)
	run := linkRun("run_later")
	if _, err := h.pub.PublishWorkflow(ctx, "org_1", rc.URL, run, envelope.Block{}); err != nil {
		t.Fatal(err)
	}
	// While the CSV is missing the event waits off the deliverers' consumer:
	// other events (more than the two workers) flow past it.
	publishJobs(t, h, rc.URL, 10)
	jstest.Eventually(t, 5*time.Second, func() bool { return rc.count() == 10 }, "other deliveries while one waits")
	// The CSV appears (scaled down from "after 5 s").
	if _, err := h.res.Results.PutBytes(ctx, run.ResultsObject, []byte("name\nJohn\n")); err != nil {
		t.Fatal(err)
	}
	jstest.Eventually(t, 5*time.Second, func() bool { return rc.count() == 11 }, "the waiting run delivered")
	got := rc.requests()[10]
	env := envelopeOf(t, got)
	if env.RunID != "run_later" || env.ResultsDownloadURL == nil || env.Attempt != 1 || got.header.Get(HeaderAttempt) != "1" {
		t.Errorf("run delivered as attempt %d (header %s) with link %v", env.Attempt, got.header.Get(HeaderAttempt), env.ResultsDownloadURL)
	}
}

func TestCSVLinkNeverAppears(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streamsConfig())
	rc := newReceiver(t, nil)
	h.start(Config{Links: Links{Store: h.res.Results, Signer: testSigner{}, Wait: 300 * time.Millisecond, Poll: 50 * time.Millisecond}}, nil)
	ctx := jstest.Context(t, 20*time.Second)

	// Inline rows: the webhook goes out with results_download_url null.
	small := linkRun("run_never")
	r1, err := h.pub.PublishWorkflow(ctx, "org_1", rc.URL, small, envelope.Block{})
	if err != nil {
		t.Fatal(err)
	}
	jstest.Eventually(t, 5*time.Second, func() bool { return rc.count() == 1 }, "delivery without the link")
	if env := envelopeOf(t, rc.requests()[0]); env.ResultsDownloadURL != nil || string(env.Results) != `[{"name":"John Doe"}]` {
		t.Errorf("link = %v, results = %s", env.ResultsDownloadURL, env.Results)
	}
	if o := h.finalOutcome("org_1", envelope.SourceWorkflow, r1.EventID, 5*time.Second); !o.Success {
		t.Errorf("outcome = %+v", o)
	}

	// Rows too large to inline and no download: recorded as the failure.
	large := linkRun("run_large")
	large.Results, large.RowCount = nil, 5000
	r2, err := h.pub.PublishWorkflow(ctx, "org_1", rc.URL, large, envelope.Block{})
	if err != nil {
		t.Fatal(err)
	}
	o := h.finalOutcome("org_1", envelope.SourceWorkflow, r2.EventID, 5*time.Second)
	if o.Success || !strings.Contains(o.Error, "results too large to inline") || rc.count() != 1 {
		t.Errorf("outcome = %+v, requests = %d", o, rc.count())
	}
}

func TestPerAttemptFieldsOnARetriedRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t, streamsConfig())
	rc := newReceiver(t, func(n int, _ *http.Request) int {
		if n <= 2 {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	h.start(Config{Links: Links{Store: h.res.Results, Signer: testSigner{}}}, staticSecrets(testSecret))
	ctx := jstest.Context(t, 10*time.Second)
	run := linkRun("run_retry")
	if _, err := h.res.Results.PutBytes(ctx, run.ResultsObject, []byte("name\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.pub.PublishWorkflow(ctx, "org_1", rc.URL, run, envelope.Block{}); err != nil {
		t.Fatal(err)
	}
	jstest.Eventually(t, 5*time.Second, func() bool { return rc.count() == 3 }, "three attempts")
	var lastDuration int64 = -1
	var lastLink string
	for i, r := range rc.requests() {
		env := envelopeOf(t, r)
		if env.Attempt != i+1 || r.header.Get(HeaderAttempt) != strconv.Itoa(i+1) {
			t.Errorf("attempt %d: body %d, header %s", i+1, env.Attempt, r.header.Get(HeaderAttempt))
		}
		if _, err := time.Parse(time.RFC3339, env.CompletedAt); err != nil || !strings.HasSuffix(env.CompletedAt, "Z") {
			t.Errorf("attempt %d: completed_at %q", i+1, env.CompletedAt)
		}
		if env.DurationMS <= lastDuration {
			t.Errorf("attempt %d: duration_ms %d not after %d", i+1, env.DurationMS, lastDuration)
		}
		if env.ResultsDownloadURL == nil || *env.ResultsDownloadURL == lastLink {
			t.Errorf("attempt %d: link not re-signed: %v", i+1, env.ResultsDownloadURL)
		} else {
			lastLink = *env.ResultsDownloadURL
		}
		lastDuration = env.DurationMS
		// The per-attempt fields are covered by that attempt's signature.
		if err := sign.Verify(r.header.Get(sign.HeaderName), r.body, []string{testSecret}, time.Now(), 0); err != nil {
			t.Errorf("attempt %d: %v", i+1, err)
		}
	}
}
