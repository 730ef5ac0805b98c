package adminapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/adminapi"
	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

type api struct {
	t   *testing.T
	url string
	log *bytes.Buffer
	// org1 is an organization token of org_1 (with replay permission,
	// which gives it nothing here).
	org1 string
}

func newAPI(t *testing.T) *api {
	s := jstest.Server(t)
	_, js := jstest.Connect(t, s)
	res, err := streams.Ensure(jstest.Context(t, 10*time.Second), js, streams.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	tokens := apitoken.NewStore(res.Tokens, apitoken.StoreOptions{})
	org1, _, err := tokens.Create(jstest.Context(t, 10*time.Second), apitoken.Spec{Name: "org_1 support", Scope: apitoken.ScopeOrg, OrgID: "org_1", Replay: true})
	if err != nil {
		t.Fatal(err)
	}
	auth := apitoken.NewAuthenticator(tokens, "PUBLISHER_ADMIN_TOKENS", []string{"admin-token"})
	h := auth.Require(adminapi.NewHandler(&secrets.Manager{KV: res.Secrets, Keyring: secrets.DevKeyring()}, zerolog.New(&logs)))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &api{t: t, url: srv.URL, log: &logs, org1: org1}
}

func (a *api) do(method, path, token, body string) (int, map[string]any) {
	a.t.Helper()
	req, _ := http.NewRequest(method, a.url+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

const base = "/v1/admin/orgs/org_1/signing-secret"

func TestLifecycleOverHTTP(t *testing.T) {
	a := newAPI(t)
	if code, _ := a.do("GET", base, "admin-token", ""); code != http.StatusNotFound {
		t.Errorf("show before create = %d, want 404", code)
	}
	code, created := a.do("POST", base, "admin-token", "")
	plaintext, _ := created["plaintext"].(string)
	if code != http.StatusCreated || !strings.HasPrefix(plaintext, "sk_whsec_") || len(plaintext) != 73 {
		t.Fatalf("create = %d %v", code, created)
	}
	code, rolled := a.do("POST", base+"/roll", "admin-token", `{"expire_overlap_hours": 2}`)
	if code != http.StatusOK || rolled["plaintext"] == plaintext {
		t.Fatalf("roll = %d %v", code, rolled)
	}
	code, shown := a.do("GET", base, "admin-token", "")
	list, _ := shown["secrets"].([]any)
	if code != http.StatusOK || shown["active"] == nil || len(list) != 2 {
		t.Fatalf("show = %d %v", code, shown)
	}
	if raw, _ := json.Marshal(shown); bytes.Contains(raw, []byte(plaintext[9:])) || bytes.Contains(raw, []byte("plaintext")) {
		t.Errorf("show reveals a secret: %s", raw)
	}
	if code, _ := a.do("DELETE", base, "admin-token", ""); code != http.StatusNoContent {
		t.Errorf("delete = %d", code)
	}
	if code, shown := a.do("GET", base, "admin-token", ""); code != http.StatusOK || shown["active"] != nil {
		t.Errorf("show after delete = %d %v", code, shown)
	}
	if strings.Contains(a.log.String(), plaintext[9:]) || strings.Contains(a.log.String(), rolled["plaintext"].(string)[9:]) {
		t.Errorf("a secret reached the log:\n%s", a.log)
	}
}

func TestRollBodyRefusalsNameEachField(t *testing.T) {
	a := newAPI(t)
	if code, body := a.do("POST", base, "admin-token", ""); code != http.StatusCreated {
		t.Fatalf("create = %d %v", code, body)
	}
	tests := []struct {
		name, path, body string
		wantFields       []string
	}{
		{"unknown member", base + "/roll", `{"expire_overlap_hour": 2}`, []string{"expire_overlap_hour"}},
		{"member in another case", base + "/roll", `{"Expire_Overlap_Hours": 2}`, []string{"Expire_Overlap_Hours"}},
		{"every problem", base + "/roll", `{"hours": 1, "expire_overlap_hours": "2", "x": {}}`, []string{"hours", "expire_overlap_hours", "x"}},
		{"duplicate member", base + "/roll", `{"expire_overlap_hours": 1, "expire_overlap_hours": 2}`, []string{"expire_overlap_hours"}},
		{"out of range", base + "/roll", `{"expire_overlap_hours": 73}`, []string{"expire_overlap_hours"}},
		{"negative", base + "/roll", `{"expire_overlap_hours": -1}`, []string{"expire_overlap_hours"}},
		{"fraction", base + "/roll", `{"expire_overlap_hours": 1.5}`, []string{"expire_overlap_hours"}},
		{"syntax error", base + "/roll", `{"expire_overlap_hours": }`, []string{"expire_overlap_hours"}},
		{"not an object", base + "/roll", `[24]`, []string{}},
		{"null", base + "/roll", `null`, []string{}},
		{"trailing data", base + "/roll", `{} {}`, []string{}},
		{"bad org", "/v1/admin/orgs/org.1/signing-secret", "", []string{"org"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := a.do("POST", tt.path, "admin-token", tt.body)
			if code != http.StatusBadRequest || body["error"] != "invalid_request" || body["message"] == "" {
				t.Fatalf("got %d %v, want 400 invalid_request with a message", code, body)
			}
			list, ok := body["fields"].([]any)
			if !ok {
				t.Fatalf("fields = %#v, want an array", body["fields"])
			}
			got := []string{}
			for _, f := range list {
				m, _ := f.(map[string]any)
				if msg, _ := m["message"].(string); msg == "" {
					t.Errorf("field %v has no message", m["field"])
				}
				name, _ := m["field"].(string)
				got = append(got, name)
			}
			if !slices.Equal(got, tt.wantFields) {
				t.Errorf("fields = %q, want %q (%v)", got, tt.wantFields, body)
			}
		})
	}
	// The refused rolls changed nothing: one secret, the created one.
	if code, shown := a.do("GET", base, "admin-token", ""); code != http.StatusOK || len(shown["secrets"].([]any)) != 1 {
		t.Errorf("refused rolls changed state: show = %d %v", code, shown)
	}
}

func TestRefusals(t *testing.T) {
	a := newAPI(t)
	tests := []struct {
		name, method, path, token, body string
		want                            int
	}{
		{"no token", "POST", base, "", "", http.StatusUnauthorized},
		{"wrong token", "POST", base, "nope", "", http.StatusUnauthorized},
		{"bad org", "POST", "/v1/admin/orgs/org.1/signing-secret", "admin-token", "", http.StatusBadRequest},
		{"roll unknown org", "POST", "/v1/admin/orgs/org_9/signing-secret/roll", "admin-token", "", http.StatusNotFound},
		{"delete unknown org", "DELETE", "/v1/admin/orgs/org_9/signing-secret", "admin-token", "", http.StatusNotFound},
		{"overlap too long", "POST", base + "/roll", "admin-token", `{"expire_overlap_hours": 73}`, http.StatusBadRequest},
		{"overlap negative", "POST", base + "/roll", "admin-token", `{"expire_overlap_hours": -1}`, http.StatusBadRequest},
		{"unknown body field", "POST", base + "/roll", "admin-token", `{"hours": 1}`, http.StatusBadRequest},
		{"unknown path", "GET", "/v1/admin/other", "admin-token", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := a.do(tt.method, tt.path, tt.token, tt.body); code != tt.want {
				t.Errorf("status = %d (%v), want %d", code, body, tt.want)
			}
		})
	}
	// Nothing was created by the refused requests.
	if code, _ := a.do("GET", base, "admin-token", ""); code != http.StatusNotFound {
		t.Errorf("refused requests changed state: show = %d", code)
	}
}

// TestOrganizationTokenScope: an organization token reads its own
// secret's metadata only; it changes nothing, and every verb on another
// organization answers what an organization without a secret answers.
func TestOrganizationTokenScope(t *testing.T) {
	a := newAPI(t)
	const other = "/v1/admin/orgs/org_2/signing-secret"
	var plaintext string
	for _, path := range []string{base, other} {
		code, body := a.do(http.MethodPost, path, "admin-token", "")
		if code != http.StatusCreated {
			t.Fatalf("operator create %s = %d", path, code)
		}
		if path == base {
			plaintext, _ = body["plaintext"].(string)
		}
	}
	code, body := a.do(http.MethodGet, base, a.org1, "")
	if code != http.StatusOK || body["active"] == nil {
		t.Fatalf("own org show = %d %v, want 200 with the active secret", code, body)
	}
	if plaintext == "" || strings.Contains(fmt.Sprint(body), plaintext) {
		t.Fatalf("show leaks a plaintext: %v", body)
	}
	_, missing := a.do(http.MethodGet, "/v1/admin/orgs/org_9/signing-secret", "admin-token", "")
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodPost, base, http.StatusForbidden},
		{http.MethodPost, base + "/roll", http.StatusForbidden},
		{http.MethodDelete, base, http.StatusForbidden},
		{http.MethodGet, other, http.StatusNotFound},
		{http.MethodPost, other, http.StatusNotFound},
		{http.MethodPost, other + "/roll", http.StatusNotFound},
		{http.MethodDelete, other, http.StatusNotFound},
	} {
		code, body := a.do(tc.method, tc.path, a.org1, "")
		if code != tc.want {
			t.Errorf("org_1 token %s %s = %d, want %d", tc.method, tc.path, code, tc.want)
		}
		if tc.want == http.StatusNotFound && fmt.Sprint(body) != fmt.Sprint(missing) {
			t.Errorf("org_1 token %s %s = %v, want the answer of an org without a secret %v", tc.method, tc.path, body, missing)
		}
	}
	// Nothing changed: org_2's secret is still the operator's, org_1's still active.
	if code, body := a.do(http.MethodGet, other, "admin-token", ""); code != http.StatusOK || body["active"] == nil {
		t.Fatalf("org_2 after the attempts: %d %v", code, body)
	}
	if code, body := a.do(http.MethodGet, base, "admin-token", ""); code != http.StatusOK || len(body["secrets"].([]any)) != 1 {
		t.Fatalf("org_1 after the attempts: %d %v, want its one secret", code, body)
	}
}

// /v1/secrets/{org} is the same API as /v1/admin/orgs/{org}/signing-secret,
// with the same access: an org token reads its own metadata and gets 404
// for another organization.
func TestShortSecretsPath(t *testing.T) {
	a := newAPI(t)
	if code, _ := a.do("POST", "/v1/secrets/org_1", "admin-token", ""); code != http.StatusCreated {
		t.Fatalf("create on the short path = %d, want 201", code)
	}
	if code, shown := a.do("GET", base, "admin-token", ""); code != http.StatusOK || shown["active"] == nil {
		t.Errorf("show on the long path after a create on the short one = %d %v", code, shown)
	}
	if code, rolled := a.do("POST", "/v1/secrets/org_1/roll", "admin-token", `{"expire_overlap_hours": 1}`); code != http.StatusOK || rolled["plaintext"] == nil {
		t.Errorf("roll on the short path = %d %v", code, rolled)
	}
	if code, shown := a.do("GET", "/v1/secrets/org_1", a.org1, ""); code != http.StatusOK || shown["active"] == nil {
		t.Errorf("org_1's token showing its own secret = %d %v, want 200", code, shown)
	}
	if code, _ := a.do("POST", "/v1/secrets/org_1/roll", a.org1, ""); code != http.StatusForbidden {
		t.Errorf("org_1's token rolling = %d, want 403", code)
	}
	if code, _ := a.do("POST", "/v1/secrets/org_2", "admin-token", ""); code != http.StatusCreated {
		t.Fatalf("create org_2 = %d", code)
	}
	for _, m := range []string{"GET", "POST", "DELETE"} {
		if code, _ := a.do(m, "/v1/secrets/org_2", a.org1, ""); code != http.StatusNotFound {
			t.Errorf("org_1's token: %s /v1/secrets/org_2 = %d, want 404", m, code)
		}
	}
	if code, _ := a.do("GET", "/v1/secrets/org_1/nope", "admin-token", ""); code != http.StatusNotFound {
		t.Errorf("an unknown path = %d, want 404", code)
	}
}
