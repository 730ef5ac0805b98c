package undeliveredapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/undelivered"
	"github.com/sixtyfour-oss/webhooks/internal/undeliveredapi"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// operatorToken is the static operator token the test servers accept.
const operatorToken = "op_test_token_0123456789"

// history is the delivery log a test's replays see.
type history func(ctx context.Context, orgID, eventID string) (*envelope.Outcome, error)

// env is one test's JetStream server with the pipeline's streams, and the
// API on an httptest server behind a real apitoken.Authenticator.
type env struct {
	t   *testing.T
	ctx context.Context
	js  jetstream.JetStream
	sc  streams.Config
	res *streams.Resources
	srv *httptest.Server
	log *jstest.LogBuffer
	// Tokens: the operator's, org_a's with and without the replay
	// permission, and org_b's with it.
	op, orgA, orgARead, orgB string
}

// newEnv starts the server, creates the streams and the tokens and serves
// the API with h as its delivery log (nil: none).
func newEnv(t *testing.T, h history) *env {
	t.Helper()
	_, js := jstest.Connect(t, jstest.Server(t))
	ctx := jstest.Context(t, 60*time.Second)
	sc := streams.Config{}.WithDefaults()
	res, err := streams.Ensure(ctx, js, sc)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, js: js, sc: sc, res: res, log: &jstest.LogBuffer{}, op: operatorToken}
	store := apitoken.NewStore(res.Tokens, apitoken.StoreOptions{})
	e.orgA = e.token(store, apitoken.Spec{Name: "acme replayer", Scope: apitoken.ScopeOrg, OrgID: "org_a", Replay: true})
	e.orgARead = e.token(store, apitoken.Spec{Name: "acme reader", Scope: apitoken.ScopeOrg, OrgID: "org_a"})
	e.orgB = e.token(store, apitoken.Spec{Name: "globex replayer", Scope: apitoken.ScopeOrg, OrgID: "org_b", Replay: true})
	auth := apitoken.NewAuthenticator(store, "PUBLISHER_ADMIN_TOKENS", []string{operatorToken})
	h2 := undeliveredapi.Handler(js, sc, undeliveredapi.Options{History: h, Log: zerolog.New(e.log)})
	mux := http.NewServeMux()
	mux.Handle(undeliveredapi.Path, auth.Require(h2))
	mux.Handle(undeliveredapi.Path+"/", auth.Require(h2))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) token(store *apitoken.Store, s apitoken.Spec) string {
	e.t.Helper()
	tok, _, err := store.Create(e.ctx, s)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// response is an answer of the API.
type response struct {
	status int
	header http.Header
	body   []byte
}

// decode reads the body into v, failing the test when it is not JSON.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("answer %d %s: %v", r.status, r.body, err)
	}
}

// do sends method path (relative to the server) with token and body ("":
// none) and returns the answer.
func (e *env) do(method, path, token, body string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct := res.Header.Get("Content-Type"); method != http.MethodHead && !strings.HasPrefix(ct, "application/json") {
		e.t.Errorf("%s %s: Content-Type %q, want JSON", method, path, ct)
	}
	return response{status: res.StatusCode, header: res.Header, body: data}
}

// event describes a dead letter to write.
type event struct {
	org      string
	workflow bool
	taskType string
	host     string
	replay   int
}

// seq makes task and run ids unique within the test binary.
var seq atomic.Int64

// deadLetter writes an undelivered message the way the deliverer does:
// body = the encoded request, Sixtyfour-Failure = its failure record.
func (e *env) deadLetter(ev event) *envelope.Request {
	e.t.Helper()
	now := time.Now()
	url := "https://" + ev.host + "/hooks?token=secret-in-url"
	n := strconv.FormatInt(seq.Add(1), 10)
	var req *envelope.Request
	var err error
	if ev.workflow {
		run := envelope.WorkflowRun{WorkflowID: "wf_1", RunID: "run_" + n, RowCount: 1, PreviousBlockID: "blk_2",
			PreviousBlockName: "lead_enrichment", PreviousBlockNumber: 2, Results: []byte(`[{"a":1}]`)}
		req, err = envelope.NewWorkflowRequest(now, ev.org, url, run, envelope.Block{TimeoutSeconds: 30})
	} else {
		if ev.taskType == "" {
			ev.taskType = "find_email"
		}
		job := envelope.JobResult{TaskID: "task_" + n, Status: envelope.StatusCompleted, TaskType: ev.taskType,
			Result: []byte(`{"email":"x@example.com"}`)}
		req, err = envelope.NewJobRequest(now, ev.org, url, job)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	body, err := req.Encode()
	if err != nil {
		e.t.Fatal(err)
	}
	jstest.WriteUndelivered(e.ctx, e.t, e.js, e.sc, body, failureOf(req, ev.replay, now))
	return req
}

// failureOf is the failure record of a request whose six attempts got 503.
func failureOf(req *envelope.Request, replay int, now time.Time) *envelope.Outcome {
	o := &envelope.Outcome{V: 1, EventID: req.EventID, OrgID: req.OrgID, Source: req.Source, EventType: req.EventType,
		Host: req.Host(), State: envelope.StateUndelivered, Final: true, Attempts: 6, StatusCode: 503,
		Error: "attempts exhausted after 6 attempts: HTTP 503", QueuedAt: now.UTC(), FirstAttemptAt: now.UTC(),
		LastAttemptAt: now.UTC(), Replay: replay}
	o.SetBlockColumns()
	return o
}

// fixture is four dead letters across two organizations, both sources,
// two event types and two hosts, stored in the order a1, a2, b1, b2.
type fixture struct {
	a1, a2, b1, b2 *envelope.Request
}

func (e *env) fixture() fixture {
	e.t.Helper()
	return fixture{
		a1: e.deadLetter(event{org: "org_a", taskType: "find_email", host: "a.example.com"}),
		a2: e.deadLetter(event{org: "org_a", workflow: true, host: "b.example.com", replay: 2}),
		b1: e.deadLetter(event{org: "org_b", taskType: "find_phone", host: "a.example.com"}),
		b2: e.deadLetter(event{org: "org_b", taskType: "find_email", host: "b.example.com"}),
	}
}

// undeliveredIDs returns the event ids in the undelivered stream, sorted.
func (e *env) undeliveredIDs() []string {
	e.t.Helper()
	entries, err := undelivered.List(e.ctx, e.js, e.sc, undelivered.Filter{}, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	out := make([]string, len(entries))
	for i := range entries {
		out[i] = entries[i].EventID()
	}
	slices.Sort(out)
	return out
}

// deliveredIDs returns the event ids of the messages on WEBHOOKS (nobody
// consumes it in these tests), sorted, repeats included.
func (e *env) deliveredIDs() []string {
	e.t.Helper()
	info, err := e.res.Deliver.Info(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for s := info.State.FirstSeq; info.State.Msgs > 0 && s <= info.State.LastSeq; s++ {
		m, err := e.res.Deliver.GetMsg(e.ctx, s)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			e.t.Fatal(err)
		}
		req, err := envelope.Decode(m.Data, envelope.URLPolicy{})
		if err != nil {
			e.t.Fatalf("WEBHOOKS message %d: %v", s, err)
		}
		out = append(out, req.EventID)
	}
	slices.Sort(out)
	return out
}

// ids returns the requests' event ids, sorted.
func ids(reqs ...*envelope.Request) []string {
	out := make([]string, 0, len(reqs))
	for _, r := range reqs {
		out = append(out, r.EventID)
	}
	slices.Sort(out)
	return out
}

// itemIDs returns the items' event ids, sorted.
func itemIDs(items []undeliveredapi.Item) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, it.EventID)
	}
	slices.Sort(out)
	return out
}

// listAnswer is the list's body.
type listAnswer struct {
	Undelivered []undeliveredapi.Item `json:"undelivered"`
	Truncated   bool                  `json:"truncated"`
}

// errorAnswer is an error body, with the fields of a 400.
type errorAnswer struct {
	Error   string                `json:"error"`
	Message string                `json:"message"`
	Fields  []envelope.FieldError `json:"fields"`
}

func (a errorAnswer) fieldNames() []string {
	out := []string{}
	for _, f := range a.Fields {
		out = append(out, f.Field)
	}
	return out
}

// serveAs serves one request to h directly, as p (the principal a test
// middleware would have put in the context).
func serveAs(t *testing.T, h http.Handler, p apitoken.Principal, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(apitoken.WithPrincipal(jstest.Context(t, 30*time.Second), p), method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// writeRaw stores body as an undelivered message with failure as its
// record, whatever body holds.
func writeRaw(e *env, body []byte, failure *envelope.Outcome) {
	e.t.Helper()
	jstest.WriteUndelivered(e.ctx, e.t, e.js, e.sc, body, failure)
}
