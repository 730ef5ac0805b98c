package undeliveredapi_test

import (
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/internal/undelivered"
	"github.com/sixtyfour-oss/webhooks/internal/undeliveredapi"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// Bad input is answered 400 invalid_request naming every bad parameter
// or member, and changes nothing.
func TestBadInput(t *testing.T) {
	e := newEnv(t, nil)
	fx := e.fixture()
	all := ids(fx.a1, fx.a2, fx.b1, fx.b2)
	p := undeliveredapi.Path
	a1 := fx.a1.EventID
	for _, tc := range []struct {
		name, method, path, body string
		fields                   []string
	}{
		{"unknown parameter", "GET", p + "?colour=red", "", []string{"colour"}},
		{"parameter given twice", "GET", p + "?org_id=org_a&org_id=org_b", "", []string{"org_id"}},
		{"bad time", "GET", p + "?since=yesterday", "", []string{"since"}},
		{"time without a zone", "GET", p + "?until=2026-12-06T10:00:00", "", []string{"until"}},
		{"until before since", "GET", p + "?since=2026-12-06T10:00:00Z&until=2026-12-06T09:00:00Z", "", []string{"until"}},
		{"limit 0", "GET", p + "?limit=0", "", []string{"limit"}},
		{"limit above the most", "GET", p + "?limit=501", "", []string{"limit"}},
		{"limit not a number", "GET", p + "?limit=ten", "", []string{"limit"}},
		{"bad source", "GET", p + "?source=email", "", []string{"source"}},
		{"bad org id", "GET", p + "?org_id=org.a", "", []string{"org_id"}},
		{"every problem at once", "GET", p + "?zeta=1&alpha=2&limit=0&since=x&source=y", "",
			[]string{"alpha", "zeta", "source", "since", "limit"}},
		{"show: bad event id", "GET", p + "/ev.1", "", []string{"event_id"}},
		{"show: unknown parameter", "GET", p + "/" + a1 + "?limit=1", "", []string{"limit"}},
		{"show: bad org id", "GET", p + "/" + a1 + "?org_id=a*", "", []string{"org_id"}},
		{"replay: not JSON", "POST", p + "/replay", `not json`, []string{}},
		{"replay: cut short", "POST", p + "/replay", `{"org_id":`, []string{"org_id"}},
		{"replay: not an object", "POST", p + "/replay", `["org_a"]`, []string{}},
		{"replay: null", "POST", p + "/replay", `null`, []string{}},
		{"replay: unknown member", "POST", p + "/replay", `{"org":"org_a"}`, []string{"org"}},
		{"replay: member in another case", "POST", p + "/replay", `{"Org_ID":"org_a"}`, []string{"Org_ID"}},
		{"replay: duplicate member", "POST", p + "/replay", `{"org_id":"org_a","org_id":"org_b"}`, []string{"org_id"}},
		{"replay: wrong type", "POST", p + "/replay", `{"dry_run":"yes","event_ids":"x"}`, []string{"dry_run", "event_ids"}},
		{"replay: bad event id", "POST", p + "/replay", `{"event_ids":["` + a1 + `","bad id"]}`, []string{"event_ids.1"}},
		{"replay: bad time and rate", "POST", p + "/replay", `{"since":"x","rate_per_second":-1}`, []string{"since", "rate_per_second"}},
		{"replay: query parameter", "POST", p + "/replay?org_id=org_a", `{"org_id":"org_a"}`, []string{"org_id"}},
		{"replay one: bad event id", "POST", p + "/ev.1/replay", "", []string{"event_id"}},
		{"replay one: unknown member", "POST", p + "/" + a1 + "/replay", `{"org_id":"org_a"}`, []string{"org_id"}},
		{"purge: no rate", "POST", p + "/purge", `{"org_id":"org_a","rate_per_second":1}`, []string{"rate_per_second"}},
		{"purge: bad source", "POST", p + "/purge", `{"source":"jobs"}`, []string{"source"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do(tc.method, tc.path, e.op, tc.body)
			var got errorAnswer
			res.decode(t, &got)
			if res.status != http.StatusBadRequest || got.Error != "invalid_request" || got.Message == "" {
				t.Fatalf("answer = %d %s, want 400 invalid_request", res.status, res.body)
			}
			if names := got.fieldNames(); !slices.Equal(names, tc.fields) {
				t.Errorf("fields = %v, want %v (%s)", names, tc.fields, res.body)
			}
		})
	}
	if got := e.undeliveredIDs(); !slices.Equal(got, all) || len(e.deliveredIDs()) != 0 {
		t.Errorf("bad input changed the streams: undelivered %v", got)
	}
	huge := `{"event_ids":["` + strings.Repeat("x", undeliveredapi.MaxBodyBytes) + `"]}`
	if res := e.do("POST", p+"/replay", e.op, huge); res.status != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over the limit = %d %s, want 413", res.status, res.body)
	}
}

func TestMethodsAndPaths(t *testing.T) {
	e := newEnv(t, nil)
	p := undeliveredapi.Path
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"HEAD", p, 200, ""},
		{"GET", p + "/", 200, ""},
		{"POST", p, 405, "GET, HEAD"},
		{"DELETE", p, 405, "GET, HEAD"},
		{"GET", p + "/replay", 405, "POST"},
		{"PUT", p + "/purge", 405, "POST"},
		{"DELETE", p + "/ev1", 405, "GET, HEAD"},
		{"GET", p + "/ev1/replay", 405, "POST"},
		{"GET", p + "/ev1/purge", 404, ""},
		{"POST", p + "/ev1/replay/now", 404, ""},
		{"GET", p + "/replay/", 404, ""},
	} {
		res := e.do(tc.method, tc.path, e.op, "")
		if res.status != tc.status || res.header.Get("Allow") != tc.allow {
			t.Errorf("%s %s = %d Allow %q, want %d Allow %q", tc.method, tc.path, res.status, res.header.Get("Allow"), tc.status, tc.allow)
		}
	}
	// Paths outside Path, for a handler mounted more widely.
	h := undeliveredapi.Handler(e.js, e.sc, undeliveredapi.Options{})
	op := apitoken.Principal{Name: "op", Scope: apitoken.ScopeOperator}
	for _, path := range []string{"/v1/undeliveredx", "/v1/deliveries", "/"} {
		if rec := serveAs(t, h, op, "GET", path, ""); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, rec.Code)
		}
	}
}

func TestUnauthenticated(t *testing.T) {
	e := newEnv(t, nil)
	e.fixture()
	for _, token := range []string{"", "wrong", e.op + "x"} {
		res := e.do("GET", undeliveredapi.Path, token, "")
		if res.status != http.StatusUnauthorized || strings.Contains(string(res.body), "org_a") {
			t.Errorf("token %q: %d %s, want 401", token, res.status, res.body)
		}
	}
	// Mounted without Require, the handler refuses (fail closed).
	h := undeliveredapi.Handler(e.js, e.sc, undeliveredapi.Options{})
	for _, p := range []apitoken.Principal{{}, {Scope: apitoken.ScopeOrg}} {
		if rec := serveAs(t, h, p, "GET", undeliveredapi.Path, ""); rec.Code != http.StatusUnauthorized {
			t.Errorf("principal %+v: %d, want 401", p, rec.Code)
		}
	}
}

func TestParseFilter(t *testing.T) {
	since := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		query  string
		extra  []string
		want   undelivered.Filter
		fields []string
	}{
		{"empty", "", nil, undelivered.Filter{}, nil},
		{"every field", "org_id=org_a&source=job&event_type=find_email&host=a.example.com&since=2026-12-06T10:00:00Z&until=2026-12-06T11:00:00%2B01:00",
			nil, undelivered.Filter{OrgID: "org_a", Source: "job", EventType: "find_email", Host: "a.example.com",
				Since: since, Until: since}, nil},
		{"the caller's parameters", "limit=5&page=2&org_id=org_b", []string{"limit", "page"}, undelivered.Filter{OrgID: "org_b"}, nil},
		{"unknown parameters", "limit=5&page=2", []string{"page"}, undelivered.Filter{}, []string{"limit"}},
		{"repeated and bad", "source=job&source=workflow&org_id=a.b", nil, undelivered.Filter{}, []string{"source", "org_id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			values, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			f, fields := undeliveredapi.ParseFilter(values, tc.extra...)
			var names []string
			for _, fe := range fields {
				names = append(names, fe.Field)
			}
			if !slices.Equal(names, tc.fields) {
				t.Errorf("fields = %v, want %v", fields, tc.fields)
			}
			if tc.fields == nil && (!f.Since.Equal(tc.want.Since) || !f.Until.Equal(tc.want.Until)) {
				t.Errorf("since, until = %v, %v; want %v, %v", f.Since, f.Until, tc.want.Since, tc.want.Until)
			}
			f.Since, f.Until, tc.want.Since, tc.want.Until = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if tc.fields == nil && !reflect.DeepEqual(f, tc.want) {
				t.Errorf("filter = %+v, want %+v", f, tc.want)
			}
		})
	}
}

func TestScopeFilter(t *testing.T) {
	op := apitoken.Principal{Scope: apitoken.ScopeOperator}
	a := apitoken.Principal{Scope: apitoken.ScopeOrg, OrgID: "org_a"}
	for _, tc := range []struct {
		p         apitoken.Principal
		requested string
		want      string
		ok        bool
	}{
		{op, "", "", true}, {op, "org_b", "org_b", true},
		{a, "", "org_a", true}, {a, "org_a", "org_a", true}, {a, "org_b", "", false},
	} {
		f, ok := undeliveredapi.ScopeFilter(tc.p, undelivered.Filter{OrgID: tc.requested, Host: "h"})
		if ok != tc.ok || f.OrgID != tc.want || (ok && f.Host != "h") {
			t.Errorf("%s asking for %q: %+v, %v; want org %q, %v", tc.p.Scope, tc.requested, f, ok, tc.want, tc.ok)
		}
	}
}

// FuzzParseFilter: any query string either names its problems or yields
// a filter of valid ids and an ordered time range.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"", "org_id=org_a", "since=2026-12-06T10:00:00Z&until=2026-12-06T09:00:00Z",
		"source=job&source=job", "x=1&limit=2", "host=%ff&event_type=%00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		values, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		fl, fields := undeliveredapi.ParseFilter(values, "limit")
		if len(fields) > 0 {
			return
		}
		if fl.OrgID != "" && !envelope.ValidOrgID(fl.OrgID) ||
			fl.Source != "" && fl.Source != "job" && fl.Source != "workflow" ||
			!fl.Since.IsZero() && !fl.Until.IsZero() && fl.Until.Before(fl.Since) {
			t.Errorf("ParseFilter(%q) = %+v with no problem", raw, fl)
		}
	})
}
