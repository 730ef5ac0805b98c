package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sixtyfour-oss/webhooks/internal/secrets"
)

// shownSecret returns the plaintext secret a page shows.
func shownSecret(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`<code class="secret">(sk_whsec_[^<]+)</code>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no secret on the page:\n%s", body)
	}
	return m[1]
}

func TestCreateRollDeleteSecrets(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(operatorToken)

	none := b.get("/secrets?org=org_a").want(t, http.StatusOK, "no secret yet")
	if !strings.Contains(none.body, "No secret") || !strings.Contains(none.body, `action="/secrets/create"`) {
		t.Fatalf("the page of an organization without a secret:\n%s", none.body)
	}
	created := b.post("/secrets/create", url.Values{"org": {"org_a"}}).want(t, http.StatusOK, "create")
	first := shownSecret(t, created.body)
	if created.header.Get("Cache-Control") != "no-store" {
		t.Error("the new secret's page may be cached")
	}
	b.post("/secrets/create", url.Values{"org": {"org_a"}}).want(t, http.StatusConflict, "create over an active secret")

	rolled := b.post("/secrets/roll", url.Values{"org": {"org_a"}, "overlap_hours": {"6"}}).want(t, http.StatusOK, "roll")
	second := shownSecret(t, rolled.body)
	if second == first || !strings.Contains(rolled.body, "keeps signing (second v1) for 6 hours") {
		t.Fatalf("the roll page:\n%s", rolled.body)
	}
	after := b.get("/secrets?org=org_a").want(t, http.StatusOK, "after the roll")
	for _, s := range []string{first, second} {
		if strings.Contains(after.body, s) {
			t.Fatal("the secrets page shows a plaintext secret")
		}
	}
	if !strings.Contains(after.body, "still signs (second v1) until") {
		t.Errorf("the previous secret's expiry is not shown:\n%s", after.body)
	}
	if e.logs.Contains(first) || e.logs.Contains(second) || e.logs.Contains(second[len(second)-12:]) {
		t.Fatal("a secret was logged")
	}

	review := b.post("/secrets/delete", url.Values{"org": {"org_a"}}).want(t, http.StatusOK, "delete review")
	if !strings.Contains(review.body, "go out unsigned") || !strings.Contains(review.body, `action="/secrets/delete/confirm"`) {
		t.Fatalf("the delete review:\n%s", review.body)
	}
	if metas, _ := e.secrets.Show(e.ctx, "org_a"); metas[0].Status != secrets.StatusActive {
		t.Fatal("the review deleted the secret")
	}
	p := b.post("/secrets/delete/confirm", url.Values{"org": {"org_a"}}).want(t, http.StatusSeeOther, "delete")
	if p.header.Get("Location") != "/secrets?org=org_a" {
		t.Fatalf("after the delete: %q", p.header.Get("Location"))
	}
	if !strings.Contains(b.get("/secrets?org=org_a").body, "No secret") {
		t.Fatal("the secret is still shown as active")
	}
}

func TestRollOverlapIsValidated(t *testing.T) {
	e := newEnv(t)
	if _, _, err := e.secrets.Create(e.ctx, "org_a"); err != nil {
		t.Fatal(err)
	}
	before, _ := e.secrets.Show(e.ctx, "org_a")
	b := e.browser()
	b.signIn(operatorToken)
	for _, v := range []string{"73", "-1", "1.5", "a day", ""} {
		t.Run(v, func(t *testing.T) {
			p := b.post("/secrets/roll", url.Values{"org": {"org_a"}, "overlap_hours": {v}}).want(t, http.StatusBadRequest, v)
			msg, found := fieldError(t, p.body, "overlap_hours")
			if !found || !strings.Contains(msg, "between 0 and 72") {
				t.Fatalf("overlap %q: error next to the field = %q (input found: %v)", v, msg, found)
			}
		})
	}
	after, _ := e.secrets.Show(e.ctx, "org_a")
	if len(after) != len(before) || after[0].ID != before[0].ID {
		t.Fatal("a refused roll changed the secrets")
	}
}

func TestSecretsPageNeedsAManager(t *testing.T) {
	e := newEnvWith(t, options{noSecrets: true})
	b := e.browser()
	b.signIn(operatorToken)
	if strings.Contains(b.get("/").body, `href="/secrets"`) {
		t.Error("the header links to a secrets page that does not exist")
	}
	b.get("/secrets?org=org_a").want(t, http.StatusNotFound, "secrets without a manager")
}

func TestNoMasterKey(t *testing.T) {
	e := newEnvWith(t, options{noMasterKey: true})
	b := e.browser()
	b.signIn(operatorToken)
	p := b.post("/secrets/create", url.Values{"org": {"org_a"}}).want(t, http.StatusServiceUnavailable, "create without a master key")
	if !strings.Contains(p.body, "No master key") {
		t.Fatalf("the page does not say why:\n%s", p.body)
	}
}
