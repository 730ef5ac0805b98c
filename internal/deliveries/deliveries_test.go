package deliveries_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/internal/deliveries"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/sqlitestore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/storetest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// server serves a log holding three events of org_a (queued a minute
// apart, the newest last) and one of org_b.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	ctx := jstest.Context(t, 30*time.Second)
	store, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "log.db"), logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	base := time.Now().Add(-time.Hour)
	var recs []*envelope.AttemptRecord
	for i, id := range []string{"ev-a1", "ev-a2", "ev-a3"} {
		recs = append(recs, storetest.Record("org_a", id, base.Add(time.Duration(i)*time.Minute)))
	}
	failed := storetest.Record("org_a", "ev-a3", base.Add(2*time.Minute))
	failed.Attempt, failed.StatusCode, failed.Decision, failed.State, failed.Final = 2, 500, envelope.DecisionUndelivered, envelope.StateUndelivered, true
	failed.ResponseExcerpt = "<script>alert(1)</script>"
	recs = append(recs, failed, storetest.Record("org_b", "ev-b1", base))
	if err := store.Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(principals(deliveries.Handler(store)))
	t.Cleanup(srv.Close)
	return srv
}

// principals stands in for apitoken's Require: a request is an operator's,
// unless its X-Test-Org header names the organization of its token.
func principals(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := apitoken.Principal{Name: "operator", Scope: apitoken.ScopeOperator}
		if org := r.Header.Get("X-Test-Org"); org != "" {
			p = apitoken.Principal{Name: org + " token", Scope: apitoken.ScopeOrg, OrgID: org}
		}
		h.ServeHTTP(w, r.WithContext(apitoken.WithPrincipal(r.Context(), p)))
	})
}

// get requests path and decodes the JSON answer into out; it returns the
// status code.
func get(t *testing.T, srv *httptest.Server, path string, out any) int {
	t.Helper()
	return getAs(t, srv, "", path, out)
}

// getAs is get with an organization token of org ("" for an operator).
func getAs(t *testing.T, srv *httptest.Server, org, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if org != "" {
		req.Header.Set("X-Test-Org", org)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return res.StatusCode
}

// badRequest is the 400 body.
type badRequest struct {
	Error  string `json:"error"`
	Fields []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"fields"`
}

func (b badRequest) fields() []string {
	var out []string
	for _, f := range b.Fields {
		out = append(out, f.Field)
	}
	slices.Sort(out)
	return out
}

func ids(p logstore.Page) []string {
	var out []string
	for _, d := range p.Deliveries {
		out = append(out, d.EventID)
	}
	return out
}

func TestSearchPagesNewestFirstWithinOneOrganization(t *testing.T) {
	srv := server(t)
	var all []string
	path := "/v1/deliveries?org_id=org_a&limit=2"
	for range 3 {
		var page logstore.Page
		if code := get(t, srv, path, &page); code != http.StatusOK {
			t.Fatalf("GET %s = %d", path, code)
		}
		all = append(all, ids(page)...)
		if page.Next == "" {
			break
		}
		path = "/v1/deliveries?org_id=org_a&limit=2&cursor=" + url.QueryEscape(page.Next)
	}
	if want := []string{"ev-a3", "ev-a2", "ev-a1"}; !slices.Equal(all, want) {
		t.Errorf("pages = %v, want %v", all, want)
	}

	var page logstore.Page
	get(t, srv, "/v1/deliveries?org_id=org_a&state=undelivered&status_class=5xx", &page)
	if got := ids(page); !slices.Equal(got, []string{"ev-a3"}) {
		t.Errorf("undelivered 5xx = %v, want [ev-a3]", got)
	}
	if d := page.Deliveries[0]; d.Attempts != 2 || d.ResponseExcerpt != "<script>alert(1)</script>" {
		t.Errorf("ev-a3 = %+v", d)
	}
	get(t, srv, "/v1/deliveries?org_id=org_b", &page)
	if got := ids(page); !slices.Equal(got, []string{"ev-b1"}) {
		t.Errorf("org_b = %v, want only its own event", got)
	}
}

func TestSearchRejectsBadParametersField(t *testing.T) {
	srv := server(t)
	var first logstore.Page
	get(t, srv, "/v1/deliveries?org_id=org_a&limit=1", &first)
	if first.Next == "" {
		t.Fatal("no cursor after a page of one")
	}
	for _, tc := range []struct {
		query  string
		fields []string
	}{
		{"colour=red", []string{"colour"}},
		{"from=yesterday", []string{"from"}},
		{"to=2026-13-01T00:00:00Z", []string{"to"}},
		{"limit=501", []string{"limit"}},
		{"limit=0", []string{"limit"}},
		{"limit=ten", []string{"limit"}},
		{"cursor=not-a-cursor", []string{"cursor"}},
		{"state=lost", []string{"state"}},
		{"status_class=6xx", []string{"status_class"}},
		{"org_id=org_a&org_id=org_b", []string{"org_id"}},
		{"colour=red&from=yesterday&limit=9999", []string{"colour", "from", "limit"}},
		// A cursor is bound to the organization of its search.
		{"org_id=org_b&cursor=" + url.QueryEscape(first.Next), []string{"cursor"}},
		{"cursor=" + url.QueryEscape(first.Next), []string{"cursor"}},
	} {
		var body badRequest
		code := get(t, srv, "/v1/deliveries?"+tc.query, &body)
		if code != http.StatusBadRequest || body.Error != "invalid_request" || !slices.Equal(body.fields(), tc.fields) {
			t.Errorf("?%s = %d %+v, want 400 with fields %v", tc.query, code, body, tc.fields)
		}
	}
}

func TestTimeline(t *testing.T) {
	srv := server(t)
	var tl logstore.Timeline
	if code := get(t, srv, "/v1/deliveries/ev-a3", &tl); code != http.StatusOK {
		t.Fatalf("timeline = %d", code)
	}
	if len(tl.Rounds) != 1 || len(tl.Rounds[0].AttemptList) != 2 || tl.Rounds[0].AttemptList[1].StatusCode != 500 {
		t.Errorf("timeline = %+v, want one round of two attempts, the second a 500", tl)
	}
	for _, path := range []string{"/v1/deliveries/ev-none", "/v1/deliveries/ev-b1?org_id=org_a"} {
		var body badRequest
		if code := get(t, srv, path, &body); code != http.StatusNotFound || body.Error != "not_found" {
			t.Errorf("GET %s = %d %+v, want 404", path, code, body)
		}
	}
	var body badRequest
	if code := get(t, srv, "/v1/deliveries/ev-a3?org=org_a", &body); code != http.StatusBadRequest || !slices.Equal(body.fields(), []string{"org"}) {
		t.Errorf("unknown timeline parameter = %d %+v", code, body)
	}
	if code := get(t, srv, "/v1/deliveries/ev%20a3", &body); code != http.StatusBadRequest || !slices.Equal(body.fields(), []string{"event_id"}) {
		t.Errorf("bad event id = %d %+v", code, body)
	}
	res, err := http.Post(srv.URL+"/v1/deliveries", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST = %d Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
}

// TestOrganizationScope: an organization token searches and reads only its
// own organization; another's event or org_id answers 404, and a cursor of
// an operator's search is not accepted.
func TestOrganizationScope(t *testing.T) {
	srv := server(t)
	var page logstore.Page
	if code := getAs(t, srv, "org_b", "/v1/deliveries", &page); code != http.StatusOK || len(page.Deliveries) != 1 || page.Deliveries[0].OrgID != "org_b" {
		t.Fatalf("org_b search = %d %+v, want its one delivery", code, page)
	}
	var tl logstore.Timeline
	if code := getAs(t, srv, "org_b", "/v1/deliveries/ev-b1", &tl); code != http.StatusOK || tl.OrgID != "org_b" {
		t.Fatalf("org_b own event = %d %+v", code, tl)
	}
	var all logstore.Page
	if code := get(t, srv, "/v1/deliveries?limit=1", &all); code != http.StatusOK || all.Next == "" {
		t.Fatalf("operator search = %d %+v, want a next cursor", code, all)
	}
	for _, path := range []string{
		"/v1/deliveries/ev-a1", "/v1/deliveries/ev-a1?org_id=org_a", "/v1/deliveries/ev-b1?org_id=org_a",
		"/v1/deliveries?org_id=org_a", "/v1/deliveries?org_id=org_a&state=undelivered",
	} {
		var body map[string]any
		code := getAs(t, srv, "org_b", path, &body)
		// The answer is the one for a missing event: an error and a message
		// that echoes at most the id that was asked for.
		if code != http.StatusNotFound || len(body) != 2 || body["error"] != "not_found" || strings.Contains(fmt.Sprint(body), "org_a") {
			t.Errorf("org_b GET %s = %d %v, want 404 with nothing of org_a", path, code, body)
		}
	}
	var bad badRequest
	if code := getAs(t, srv, "org_b", "/v1/deliveries?cursor="+url.QueryEscape(all.Next), &bad); code != http.StatusBadRequest || !slices.Contains(bad.fields(), "cursor") {
		t.Errorf("org_b with an operator's cursor = %d %+v, want 400 naming cursor", code, bad)
	}
}
