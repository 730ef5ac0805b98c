package undeliveredapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/undelivered"
	"github.com/sixtyfour-oss/webhooks/internal/undeliveredapi"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// storedAt returns when each event was dead-lettered.
func (e *env) storedAt() map[string]time.Time {
	e.t.Helper()
	entries, err := undelivered.List(e.ctx, e.js, e.sc, undelivered.Filter{}, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]time.Time{}
	for _, en := range entries {
		out[en.EventID()] = en.StoredAt
	}
	return out
}

func TestListForAnOperator(t *testing.T) {
	e := newEnv(t, nil)
	fx := e.fixture()
	at := e.storedAt()
	stamp := func(r *envelope.Request) string { return url.QueryEscape(at[r.EventID].Format(time.RFC3339Nano)) }
	for _, tc := range []struct {
		name, query string
		want        []string
		truncated   bool
	}{
		{"everything", "", ids(fx.a1, fx.a2, fx.b1, fx.b2), false},
		{"org", "?org_id=org_b", ids(fx.b1, fx.b2), false},
		{"source", "?source=workflow", ids(fx.a2), false},
		{"event type", "?event_type=find_email", ids(fx.a1, fx.b2), false},
		{"host, any case", "?host=A.EXAMPLE.com", ids(fx.a1, fx.b1), false},
		{"since", "?since=" + stamp(fx.b1), ids(fx.b1, fx.b2), false},
		{"until", "?until=" + stamp(fx.a2), ids(fx.a1, fx.a2), false},
		{"combined", "?org_id=org_a&source=job&since=" + stamp(fx.a1), ids(fx.a1), false},
		{"empty parameters are open", "?org_id=&host=", ids(fx.a1, fx.a2, fx.b1, fx.b2), false},
		{"nothing", "?org_id=org_c", []string{}, false},
		{"limit, the oldest first", "?limit=2", ids(fx.a1, fx.a2), true},
		{"limit of exactly all", "?limit=4", ids(fx.a1, fx.a2, fx.b1, fx.b2), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do(http.MethodGet, undeliveredapi.Path+tc.query, e.op, "")
			if res.status != http.StatusOK {
				t.Fatalf("status = %d %s, want 200", res.status, res.body)
			}
			var got listAnswer
			res.decode(t, &got)
			if ids := itemIDs(got.Undelivered); !slices.Equal(ids, tc.want) || got.Truncated != tc.truncated {
				t.Errorf("got %v truncated %v, want %v truncated %v", ids, got.Truncated, tc.want, tc.truncated)
			}
			if strings.Contains(string(res.body), "secret-in-url") || strings.Contains(string(res.body), `"request"`) {
				t.Errorf("the list holds a request: %s", res.body)
			}
		})
	}
}

func TestItemFields(t *testing.T) {
	e := newEnv(t, nil)
	fx := e.fixture()
	at := e.storedAt()
	res := e.do(http.MethodGet, undeliveredapi.Path+"?org_id=org_a", e.op, "")
	var got listAnswer
	res.decode(t, &got)
	if len(got.Undelivered) != 2 {
		t.Fatalf("got %d items, want 2: %s", len(got.Undelivered), res.body)
	}
	msg := "attempts exhausted after 6 attempts: HTTP 503"
	for _, tc := range []struct {
		got, want undeliveredapi.Item
	}{
		{got.Undelivered[0], undeliveredapi.Item{EventID: fx.a1.EventID, OrgID: "org_a", Source: "job", EventType: "find_email",
			Host: "a.example.com", DeadLetteredAt: at[fx.a1.EventID], Attempts: 6, StatusCode: 503, Error: msg, Reason: msg}},
		{got.Undelivered[1], undeliveredapi.Item{EventID: fx.a2.EventID, OrgID: "org_a", Source: "workflow",
			EventType: envelope.WorkflowEventType, Host: "b.example.com", DeadLetteredAt: at[fx.a2.EventID], Attempts: 6,
			StatusCode: 503, Error: msg, Reason: msg, Replayed: true, Replay: 2}},
	} {
		if !tc.got.DeadLetteredAt.Equal(tc.want.DeadLetteredAt) {
			t.Errorf("dead_lettered_at = %v, want %v", tc.got.DeadLetteredAt, tc.want.DeadLetteredAt)
		}
		tc.got.DeadLetteredAt, tc.want.DeadLetteredAt = time.Time{}, time.Time{}
		if tc.got != tc.want {
			t.Errorf("item = %+v, want %+v", tc.got, tc.want)
		}
	}
}

func TestItemOfReason(t *testing.T) {
	long := "line one\n\tline two " + strings.Repeat("x", 200)
	it := undeliveredapi.ItemOf(undelivered.Entry{Subject: "webhooks.undelivered.org_a.job.ev1",
		Failure: &envelope.Outcome{Error: long}})
	if it.EventID != "ev1" || it.OrgID != "org_a" || it.Source != "job" || it.Error != long {
		t.Errorf("item = %+v, want the subject's identity and the whole error", it)
	}
	if n := len([]rune(it.Reason)); n != 120 || !strings.HasPrefix(it.Reason, "line one line two x") || !strings.HasSuffix(it.Reason, "…") {
		t.Errorf("reason = %q (%d runes), want the error on one line cut to 120", it.Reason, n)
	}
	if it := undeliveredapi.ItemOf(undelivered.Entry{Subject: "webhooks.undelivered.org_a.job.ev1"}); it.Attempts != 0 || it.Error != "" {
		t.Errorf("item without a failure record = %+v, want zero failure fields", it)
	}
}

// detailAnswer is the show's body.
type detailAnswer struct {
	undeliveredapi.Item
	Request json.RawMessage   `json:"request"`
	Failure *envelope.Outcome `json:"failure"`
}

func TestShowForAnOperator(t *testing.T) {
	e := newEnv(t, nil)
	fx := e.fixture()
	res := e.do(http.MethodGet, undeliveredapi.Path+"/"+fx.b1.EventID, e.op, "")
	if res.status != http.StatusOK {
		t.Fatalf("status = %d %s, want 200", res.status, res.body)
	}
	var got detailAnswer
	res.decode(t, &got)
	if got.EventID != fx.b1.EventID || got.OrgID != "org_b" || got.EventType != "find_phone" || got.Attempts != 6 {
		t.Errorf("item = %+v, want b1's", got.Item)
	}
	req, err := envelope.Decode(got.Request, envelope.URLPolicy{})
	if err != nil || req.EventID != fx.b1.EventID || req.URL != fx.b1.URL {
		t.Errorf("request = %s (%v), want b1's request as JSON", got.Request, err)
	}
	if got.Failure == nil || got.Failure.StatusCode != 503 || got.Failure.EventID != fx.b1.EventID {
		t.Errorf("failure = %+v, want b1's record", got.Failure)
	}

	// A request that is not JSON is shown as a string.
	bad := &envelope.Outcome{V: 1, EventID: "ev-not-json", OrgID: "org_a", Source: envelope.SourceJob, State: envelope.StateUndelivered, Final: true}
	jstest.WriteUndelivered(e.ctx, t, e.js, e.sc, []byte("not json at all"), bad)
	res = e.do(http.MethodGet, undeliveredapi.Path+"/ev-not-json?org_id=org_a", e.op, "")
	res.decode(t, &got)
	if res.status != http.StatusOK || string(got.Request) != `"not json at all"` {
		t.Errorf("show of a non-JSON request = %d, request %s; want 200 and a string", res.status, got.Request)
	}

	// Absent, or not of the organization asked for: 404, the same body.
	absent := e.do(http.MethodGet, undeliveredapi.Path+"/ev-never-seen", e.op, "")
	other := e.do(http.MethodGet, undeliveredapi.Path+"/"+fx.b1.EventID+"?org_id=org_a", e.op, "")
	if absent.status != http.StatusNotFound || other.status != http.StatusNotFound || string(absent.body) != string(other.body) {
		t.Errorf("absent = %d %s, other org = %d %s; want 404 and the same body", absent.status, absent.body, other.status, other.body)
	}
}

// A server on which nothing was ever dead-lettered has no undelivered
// stream: it reads as empty.
func TestNoStreamYet(t *testing.T) {
	_, js := jstest.Connect(t, jstest.Server(t))
	h := undeliveredapi.Handler(js, streams.Config{}, undeliveredapi.Options{})
	op := apitoken.Principal{Name: "op", Scope: apitoken.ScopeOperator}
	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{http.MethodGet, undeliveredapi.Path, "", http.StatusOK, `"undelivered":[]`},
		{http.MethodGet, undeliveredapi.Path + "/ev1", "", http.StatusNotFound, `"not_found"`},
		{http.MethodPost, undeliveredapi.Path + "/replay", `{"all":true}`, http.StatusOK, `"matched":0`},
		{http.MethodPost, undeliveredapi.Path + "/ev1/replay", "", http.StatusNotFound, `"not_found"`},
		{http.MethodPost, undeliveredapi.Path + "/purge", `{"all":true}`, http.StatusOK, `"purged":0`},
	} {
		rec := serveAs(t, h, op, tc.method, tc.path, tc.body)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s %s = %d %s, want %d with %s", tc.method, tc.path, rec.Code, rec.Body, tc.status, tc.want)
		}
	}
}
