package apitoken_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// newStore returns a token store on a fresh embedded JetStream, with the
// given clock.
func newStore(t *testing.T, now func() time.Time) *apitoken.Store {
	t.Helper()
	_, js := jstest.Connect(t, jstest.Server(t))
	ctx := jstest.Context(t, 10*time.Second)
	kv, err := js.CreateOrUpdateKeyValue(ctx, streams.Config{}.WithDefaults().TokensBucketConfig())
	if err != nil {
		t.Fatal(err)
	}
	return apitoken.NewStore(kv, apitoken.StoreOptions{Now: now, TouchInterval: time.Minute})
}

func TestCreateAuthenticateRevoke(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	st := newStore(t, func() time.Time { return now })
	ctx := jstest.Context(t, 10*time.Second)
	token, rec, err := st.Create(ctx, apitoken.Spec{Name: "acme support", Scope: apitoken.ScopeOrg, OrgID: "org_a", Replay: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(token, "wht_"+rec.ID+"_") || len(token) < 4+16+1+43 {
		t.Fatalf("token %q does not have the form wht_<id>_<secret>", token)
	}
	list, err := st.List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v; want one record", list, err)
	}
	if strings.Contains(list[0].Hash, token) || list[0].Hash == "" || list[0].LastUsedAt != nil {
		t.Fatalf("stored record %+v: want a digest only, never used", list[0])
	}
	p, err := st.Authenticate(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if want := (apitoken.Principal{TokenID: rec.ID, Name: "acme support", Scope: apitoken.ScopeOrg, OrgID: "org_a", Replay: true}); p != want {
		t.Fatalf("Principal = %+v, want %+v", p, want)
	}
	list, _ = st.List(ctx)
	if list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(now) {
		t.Fatalf("last used = %v, want %v", list[0].LastUsedAt, now)
	}
	// A token with the right id and a wrong secret, and garbage, are refused.
	forged := token[:len(token)-2] + "AA"
	if forged == token {
		forged = token[:len(token)-2] + "BB"
	}
	for _, bad := range []string{forged, "", "wht_", "wht_" + rec.ID, "Bearer " + token, strings.ToUpper(token)} {
		if _, err := st.Authenticate(ctx, bad); !errors.Is(err, apitoken.ErrUnknownToken) {
			t.Errorf("Authenticate(%q) = %v, want ErrUnknownToken", bad, err)
		}
	}
	if err := st.Revoke(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Authenticate(ctx, token); !errors.Is(err, apitoken.ErrUnknownToken) {
		t.Fatalf("revoked token: %v, want ErrUnknownToken", err)
	}
	if err := st.Revoke(ctx, rec.ID); !errors.Is(err, apitoken.ErrNotFound) {
		t.Fatalf("second revoke: %v, want ErrNotFound", err)
	}
}

func TestSpecValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec apitoken.Spec
		want string
	}{
		{"no name", apitoken.Spec{Scope: apitoken.ScopeOperator}, "name"},
		{"control character", apitoken.Spec{Name: "a\nb", Scope: apitoken.ScopeOperator}, "name"},
		{"no scope", apitoken.Spec{Name: "x"}, "scope"},
		{"operator with org", apitoken.Spec{Name: "x", Scope: apitoken.ScopeOperator, OrgID: "org_a"}, "give no org"},
		{"org without org", apitoken.Spec{Name: "x", Scope: apitoken.ScopeOrg}, "org must match"},
		{"bad org", apitoken.Spec{Name: "x", Scope: apitoken.ScopeOrg, OrgID: "a.b"}, "org must match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			if !errors.Is(err, apitoken.ErrInvalidSpec) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want ErrInvalidSpec naming %q", err, tc.want)
			}
		})
	}
}

func TestOrgFilter(t *testing.T) {
	op := apitoken.Principal{Scope: apitoken.ScopeOperator}
	a := apitoken.Principal{Scope: apitoken.ScopeOrg, OrgID: "org_a"}
	for _, tc := range []struct {
		p         apitoken.Principal
		requested string
		org       string
		ok        bool
	}{
		{op, "", "", true}, {op, "org_b", "org_b", true},
		{a, "", "org_a", true}, {a, "org_a", "org_a", true}, {a, "org_b", "", false},
		{apitoken.Principal{Scope: apitoken.ScopeOrg}, "", "", false},
		{apitoken.Principal{}, "", "", false},
	} {
		org, ok := tc.p.OrgFilter(tc.requested)
		if org != tc.org || ok != tc.ok {
			t.Errorf("%+v.OrgFilter(%q) = %q, %v; want %q, %v", tc.p, tc.requested, org, ok, tc.org, tc.ok)
		}
	}
	if a.MayReplay("org_a") || a.MayManage() || !op.MayReplay("org_b") || !op.MayManage() {
		t.Error("an org token without replay may replay or manage, or an operator may not")
	}
	if (apitoken.Principal{Scope: apitoken.ScopeOrg, OrgID: "org_a", Replay: true}).MayReplay("org_b") {
		t.Error("a replay token of org_a may replay org_b")
	}
}

func TestRequire(t *testing.T) {
	st := newStore(t, time.Now)
	ctx := jstest.Context(t, 10*time.Second)
	orgToken, _, err := st.Create(ctx, apitoken.Spec{Name: "b", Scope: apitoken.ScopeOrg, OrgID: "org_b"})
	if err != nil {
		t.Fatal(err)
	}
	auth := apitoken.NewAuthenticator(st, "PUBLISHER_ADMIN_TOKENS", []string{"adm_1"})
	h := auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := apitoken.RequestPrincipal(w, r)
		if ok {
			_, _ = w.Write([]byte(string(p.Scope) + ":" + p.OrgID + ":" + p.Name))
		}
	}))
	for _, tc := range []struct {
		header string
		code   int
		body   string
	}{
		{"Bearer adm_1", 200, "operator::PUBLISHER_ADMIN_TOKENS #1"},
		{"bearer " + orgToken, 200, "org:org_b:b"},
		{"Bearer adm_2", 401, ""},
		{"", 401, ""},
		{"Basic adm_1", 401, ""},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/", nil)
		req.Header.Set("Authorization", tc.header)
		h.ServeHTTP(rec, req)
		if rec.Code != tc.code || (tc.body != "" && rec.Body.String() != tc.body) {
			t.Errorf("%q: %d %q, want %d %q", tc.header, rec.Code, rec.Body.String(), tc.code, tc.body)
		}
	}
	// A handler mounted without Require refuses (fail closed).
	rec := httptest.NewRecorder()
	apitoken.RequestPrincipal(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("no principal: %d, want 401", rec.Code)
	}
}
