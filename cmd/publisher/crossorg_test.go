package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	appconfig "github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/sqlitestore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/storetest"
	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// orgData is what the matrix puts in the pipeline for one organization:
// a delivered event in the log, an undelivered one on the stream (and in
// the log), and a signing secret.
type orgData struct {
	delivered, undelivered *envelope.Request
	secretID               string
}

// markers are strings of the organization's data that must never appear
// in an answer to another organization's token.
func (d orgData) markers(org string) []string {
	return []string{org, d.delivered.EventID, d.undelivered.EventID, d.delivered.Job.TaskID, d.undelivered.Job.TaskID,
		d.secretID, "only-" + org + ".example.com"}
}

// matrix is the publisher's API, on a real JetStream and SQLite log, with
// the data of org_a and org_b and API tokens.
type matrix struct {
	t        *testing.T
	srv      *httptest.Server
	js       *streams.Resources
	sc       streams.Config
	mgr      *secrets.Manager
	a, b     orgData
	operator string
	aReplay  string // org_a token that may replay
	aRead    string // org_a token that may not
}

func newMatrix(t *testing.T) *matrix {
	t.Helper()
	_, js, res := jstest.Pipeline(t, streams.Config{})
	ctx := jstest.Context(t, 30*time.Second)
	store, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "log.db"), logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	sc := streams.Config{}.WithDefaults()
	m := &matrix{t: t, js: res, sc: sc, mgr: &secrets.Manager{KV: res.Secrets, Keyring: secrets.DevKeyring()}}
	for _, org := range []string{"org_a", "org_b"} {
		d := orgData{}
		for i, final := range []string{envelope.StateDelivered, envelope.StateUndelivered} {
			job := envelope.JobResult{TaskID: "task-" + org + "-" + final, Status: envelope.StatusCompleted, TaskType: "find_email",
				Result: []byte(`{"email":"x@example.com"}`)}
			req, err := envelope.NewJobRequest(time.Now(), org, "https://only-"+org+".example.com/hook", job)
			if err != nil {
				t.Fatal(err)
			}
			rec := storetest.Record(org, req.EventID, time.Now().Add(-time.Duration(10-i)*time.Minute))
			rec.TaskID, rec.Host = job.TaskID, req.Host()
			if final == envelope.StateUndelivered {
				rec.StatusCode, rec.Decision, rec.State, rec.ResponseExcerpt = 500, envelope.DecisionUndelivered, final, "secret-of-"+org
				body, _ := req.Encode()
				jstest.WriteUndelivered(ctx, t, js, sc, body, &envelope.Outcome{V: 1, EventID: req.EventID, OrgID: org,
					Source: envelope.SourceJob, EventType: req.EventType, Host: req.Host(), State: final, Final: true, Attempts: 6,
					StatusCode: 500, Error: "HTTP 500 from " + org, QueuedAt: rec.QueuedAt, FirstAttemptAt: rec.StartedAt, LastAttemptAt: rec.StartedAt})
				d.undelivered = req
			} else {
				d.delivered = req
			}
			if err := store.Write(ctx, []*envelope.AttemptRecord{rec}); err != nil {
				t.Fatal(err)
			}
		}
		_, meta, err := m.mgr.Create(ctx, org)
		if err != nil {
			t.Fatal(err)
		}
		d.secretID = meta.ID
		if org == "org_a" {
			m.a = d
		} else {
			m.b = d
		}
	}
	tokens := apitoken.NewStore(res.Tokens, apitoken.StoreOptions{})
	mk := func(s apitoken.Spec) string {
		tok, _, err := tokens.Create(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	m.operator = mk(apitoken.Spec{Name: "ops", Scope: apitoken.ScopeOperator})
	m.aReplay = mk(apitoken.Spec{Name: "a replay", Scope: apitoken.ScopeOrg, OrgID: "org_a", Replay: true})
	m.aRead = mk(apitoken.Spec{Name: "a read", Scope: apitoken.ScopeOrg, OrgID: "org_a"})

	cfg := config{Common: appconfig.Common{DevMode: true}, tokens: []string{"ingest-token"}, MaxBodyBytes: 1 << 20}
	log := zerolog.Nop()
	pub := publish.New(js, cfg.publishConfig(res.Results))
	acc, err := newAccess(cfg, res, log)
	if err != nil {
		t.Fatal(err)
	}
	h := routes(cfg, js, pub, cfg.ingestConfig(&log), res, store, acc, log)
	m.srv = httptest.NewServer(h)
	t.Cleanup(m.srv.Close)
	return m
}

// do sends one request with token and returns the status and body.
func (m *matrix) do(method, path, token, body string) (int, string) {
	m.t.Helper()
	req, _ := http.NewRequest(method, m.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(raw)
}

// TestCrossOrganizationMatrix: every endpoint that reads or changes an
// organization's data, with every HTTP verb, asked by org_a's tokens for
// org_b's data (by org_id, by event id, by task id, by filter and by event
// id list) answers without a trace of org_b, and changes nothing of it.
func TestCrossOrganizationMatrix(t *testing.T) {
	m := newMatrix(t)
	b := m.b
	bEv, bUndel, bTask := b.delivered.EventID, b.undelivered.EventID, b.delivered.Job.TaskID
	_, opPage := m.do(http.MethodGet, "/v1/deliveries?org_id=org_b&limit=1", m.operator, "")
	bCursor := between(opPage, `"next_cursor":"`, `"`)
	if bCursor == "" {
		t.Fatalf("no cursor in the operator's org_b page: %s", opPage)
	}
	// The same tokens do reach org_a's own data: the refusals below are
	// about the organization, not a token that reaches nothing.
	a := m.a
	for _, path := range []string{"/v1/status?event_id=" + a.delivered.EventID, "/v1/deliveries/" + a.delivered.EventID,
		"/v1/undelivered/" + a.undelivered.EventID, "/v1/admin/orgs/org_a/signing-secret"} {
		if code, body := m.do(http.MethodGet, path, m.aRead, ""); code != http.StatusOK || !strings.Contains(body, "org_a") {
			t.Errorf("GET %s by org_a's own token = %d %s, want 200", path, code, body)
		}
	}
	if code, _ := m.do(http.MethodPost, "/v1/undelivered/"+a.undelivered.EventID+"/replay", m.aRead, ""); code != http.StatusForbidden {
		t.Errorf("replay by an org_a token without replay = %d, want 403", code)
	}
	if code, body := m.do(http.MethodPost, "/v1/undelivered/"+a.undelivered.EventID+"/replay", m.aReplay, ""); code != http.StatusOK || !strings.Contains(body, `"replayed":1`) {
		t.Errorf("replay by an org_a token with replay = %d %s, want 200 and one replayed", code, body)
	}
	type target struct {
		path, body string
		// scoped lists the verbs that may answer 200: they act on org_a's
		// own data and must simply not include org_b's.
		scoped []string
	}
	targets := []target{
		{path: "/v1/status?event_id=" + bEv},
		{path: "/v1/status?event_id=" + bEv + "&org_id=org_b"},
		{path: "/v1/status?task_id=" + bTask},
		{path: "/v1/status?task_id=" + bTask + "&org_id=org_b"},
		{path: "/v1/status?event_id=" + bUndel},
		{path: "/v1/deliveries", scoped: []string{"GET", "HEAD"}},
		{path: "/v1/deliveries?host=only-org_b.example.com", scoped: []string{"GET", "HEAD"}},
		{path: "/v1/deliveries?org_id=org_b"},
		{path: "/v1/deliveries?org_id=org_b&cursor=" + url.QueryEscape(bCursor)},
		{path: "/v1/deliveries?cursor=" + url.QueryEscape(bCursor)},
		{path: "/v1/deliveries/" + bEv},
		{path: "/v1/deliveries/" + bEv + "?org_id=org_b"},
		{path: "/v1/deliveries/" + bUndel},
		{path: "/v1/undelivered", scoped: []string{"GET", "HEAD"}},
		{path: "/v1/undelivered?org_id=org_b"},
		{path: "/v1/undelivered?host=only-org_b.example.com", scoped: []string{"GET", "HEAD"}},
		{path: "/v1/undelivered/" + bUndel},
		{path: "/v1/undelivered/" + bUndel + "?org_id=org_b"},
		{path: "/v1/undelivered/" + bUndel + "/replay"},
		{path: "/v1/undelivered/replay", body: `{"org_id":"org_b"}`},
		{path: "/v1/undelivered/replay", body: `{"event_ids":["` + bUndel + `"]}`, scoped: []string{"POST"}},
		{path: "/v1/undelivered/replay", body: `{"host":"only-org_b.example.com"}`, scoped: []string{"POST"}},
		{path: "/v1/undelivered/replay", body: `{"all":true}`, scoped: []string{"POST"}},
		{path: "/v1/undelivered/purge", body: `{"org_id":"org_b"}`},
		{path: "/v1/undelivered/purge", body: `{"event_ids":["` + bUndel + `"]}`},
		{path: "/v1/undelivered/purge", body: `{"all":true}`},
		{path: "/v1/admin/orgs/org_b/signing-secret"},
		{path: "/v1/admin/orgs/org_b/signing-secret/roll", body: `{"expire_overlap_hours":0}`},
	}
	verbs := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	requests := 0
	for _, token := range []string{m.aRead, m.aReplay} {
		for _, tg := range targets {
			for _, verb := range verbs {
				code, body := m.do(verb, tg.path, token, tg.body)
				requests++
				mayAnswer := false
				for _, v := range tg.scoped {
					mayAnswer = mayAnswer || v == verb
				}
				if code/100 == 2 && !mayAnswer {
					t.Errorf("%s %s %s by an org_a token = %d, want a refusal: %s", verb, tg.path, tg.body, code, body)
				}
				for _, mark := range b.markers("org_b") {
					if mark != "" && strings.Contains(body, mark) && !strings.Contains(tg.path+tg.body, mark) {
						t.Errorf("%s %s %s by an org_a token: the answer holds org_b's %q: %s", verb, tg.path, tg.body, mark, body)
					}
				}
				if strings.Contains(body, "secret-of-org_b") || strings.Contains(body, "HTTP 500 from org_b") {
					t.Errorf("%s %s %s by an org_a token leaks org_b's attempt: %s", verb, tg.path, tg.body, body)
				}
			}
		}
	}
	t.Logf("%d requests by org_a tokens for org_b's data: no leak", requests)

	// Nothing of org_b changed: its undelivered event is still there, its
	// secret still the one created.
	if code, body := m.do(http.MethodGet, "/v1/undelivered/"+bUndel, m.operator, ""); code != http.StatusOK {
		t.Errorf("org_b's undelivered event after the matrix: %d %s", code, body)
	}
	metas, err := m.mgr.Show(jstest.Context(t, 5*time.Second), "org_b")
	if err != nil || len(metas) != 1 || metas[0].ID != b.secretID {
		t.Errorf("org_b's secrets after the matrix = %+v, %v; want the one created", metas, err)
	}

	// An ingest token reads nothing.
	if code, _ := m.do(http.MethodGet, "/v1/deliveries", "ingest-token", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/deliveries with an ingest token = %d, want 401", code)
	}
}

// between returns the text of s between the first open and the next close.
func between(s, open, close string) string {
	_, rest, ok := strings.Cut(s, open)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, close)
	return v
}
