package ssrf

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// httpOK lets plain-http URLs through the syntax check, as an operator's
// local setting would: the address policy is what must refuse them.
var httpOK = envelope.URLPolicy{AllowHTTP: true}

// refusal is a URL the publisher must refuse, and what its "url" field
// error must say.
type refusal struct {
	url, says string
}

// TestPublishRefusesCanaryLiterals checks, outside any namespace, that a
// publish to each canary's IP literal is refused with a field error on
// "url" and nothing is stored. IP literals are checked without DNS, so this
// needs no namespace and sends nothing anywhere.
func TestPublishRefusesCanaryLiterals(t *testing.T) {
	var cases []refusal
	for _, u := range literalTargets {
		cases = append(cases, refusal{u, "destination refused"})
	}
	checkPublishRefuses(t, cases)
}

// testPublishTimeCheck is the same inside the namespace, with the
// hosts-file names too, where they resolve to the canaries.
func testPublishTimeCheck(t *testing.T) {
	var cases []refusal
	for _, u := range append(append([]string(nil), literalTargets...), nameTargets...) {
		cases = append(cases, refusal{u, "destination refused"})
	}
	for _, u := range altNotationTargets {
		cases = append(cases, refusal{u, ""}) // "cannot resolve host", or refused
	}
	cases = append(cases, refusal{"http://[fe80::1%25lo]/", "zone-scoped"})
	checkPublishRefuses(t, cases)
	t.Logf("[ok] %d destinations refused at publish time with a url field error", len(cases))
}

// checkPublishRefuses publishes a job to each URL through pkg/publish with
// the secure (zero) address policy and checks the refusal.
func checkPublishRefuses(t *testing.T, cases []refusal) {
	t.Helper()
	srv := jstest.Server(t)
	_, js := jstest.Connect(t, srv)
	ctx := jstest.Context(t, 30*time.Second)
	res, err := streams.Ensure(ctx, js, streams.Config{})
	if err != nil {
		t.Fatal(err)
	}
	pub := publish.New(js, publish.Config{URLs: httpOK, Destinations: egress.Policy{}, HostCheckTimeout: 3 * time.Second})
	for _, c := range cases {
		_, err := pub.PublishJob(ctx, "org_ssrf", c.url, job())
		var ve *envelope.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("publish to %s: error %v, want a validation error on url", c.url, err)
			continue
		}
		if len(ve.Fields) != 1 || ve.Fields[0].Field != "url" || !strings.Contains(ve.Fields[0].Message, c.says) {
			t.Errorf("publish to %s: field errors %+v, want one on url saying %q", c.url, ve.Fields, c.says)
		}
	}
	info, err := res.Deliver.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("WEBHOOKS holds %d messages after refused publishes, want 0", info.State.Msgs)
	}
}

// job is a valid completed job.
func job() envelope.JobResult {
	return envelope.JobResult{TaskID: "task_ssrf", Status: envelope.StatusCompleted, TaskType: "find_email",
		Result: []byte(`{"email":[["john.doe@acme.com","OK"]]}`)}
}
