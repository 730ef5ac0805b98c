package ingest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/ingest"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

const token = "tok_test_123"

// fixedNow is the clock of every handler under test.
var fixedNow = time.Date(2026, 4, 22, 20, 0, 0, 0, time.UTC)

// loopbackOnly lets publishes reach 127.0.0.0/8 destinations; the rest of
// the special-purpose ranges stay refused.
var loopbackOnly = egress.Policy{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}

// env is one test's ingest service over a real JetStream server.
type env struct {
	t      *testing.T
	srv    *server.Server
	stream jetstream.Stream
	http   *httptest.Server
}

// options adjust newEnv's defaults.
type options struct {
	ensure  streams.Config // streams created on the server
	publish publish.Config // the publisher's config (Destinations, URLs defaulted)
	maxBody int64
	logger  *zerolog.Logger
}

func newEnv(t *testing.T, o options) *env {
	t.Helper()
	s := jstest.Server(t)
	_, js := jstest.Connect(t, s)
	res, err := streams.Ensure(jstest.Context(t, 10*time.Second), js, o.ensure)
	if err != nil {
		t.Fatal(err)
	}
	if o.publish.Destinations.AllowPrefixes == nil {
		o.publish.Destinations = loopbackOnly
	}
	o.publish.URLs = envelope.URLPolicy{AllowHTTP: true}
	p := publish.New(js, o.publish)
	h := ingest.NewHandler(p, ingest.Config{
		Tokens:       []string{"other_token", token},
		MaxBodyBytes: o.maxBody,
		Logger:       o.logger,
		Now:          func() time.Time { return fixedNow },
	})
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return &env{t: t, srv: s, stream: res.Deliver, http: hs}
}

// response is a decoded reply.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// post sends body to /v1/events with the given Authorization header ("" for none).
func (e *env) post(auth, body string) response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.http.URL+ingest.EventsPath, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) response {
	e.t.Helper()
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("response is not JSON: %v: %s", err, raw)
		}
	}
	return r
}

// count is the number of messages on WEBHOOKS.
func (e *env) count() uint64 {
	e.t.Helper()
	info, err := e.stream.Info(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return info.State.Msgs
}

// stored returns the request and Nats-Msg-Id of message seq.
func (e *env) stored(seq uint64) (*envelope.Request, string) {
	e.t.Helper()
	msg, err := e.stream.GetMsg(context.Background(), seq)
	if err != nil {
		e.t.Fatal(err)
	}
	req, err := envelope.Decode(msg.Data, envelope.URLPolicy{AllowHTTP: true})
	if err != nil {
		e.t.Fatalf("stored message does not decode: %v", err)
	}
	return req, msg.Header.Get("Nats-Msg-Id")
}

const bearer = "Bearer " + token

const jobBody = `{"org_id":"org_1","source":"job","url":"https://127.0.0.1:9/hook",
 "job":{"task_id":"t-1","status":"completed","task_type":"find_email","result":{"email":"a@b.co"}}}`

const workflowBody = `{"org_id":"org_1","source":"workflow","url":"https://127.0.0.1:9/wf",
 "headers":{"X-Api-Key":"k1"},"timeout_seconds":30,
 "workflow":{"workflow_id":"wf_1","run_id":"run_1","row_count":2,"previous_block_id":"b_1",
  "previous_block_name":"lead_enrichment","previous_block_number":3,"started_at":"2026-04-22T19:59:00Z",
  "results":[{"a":1},{"a":2}]}}`
