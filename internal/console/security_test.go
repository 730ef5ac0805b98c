package console_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/sixtyfour-oss/webhooks/internal/console"
)

// inlineProblems returns what a page holds that the CSP would refuse or
// that executes inline: script elements with a body or without src, style
// elements and attributes, event-handler attributes and javascript: URLs.
func inlineProblems(t *testing.T, body string) []string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script":
				if attr(n, "src") == "" || n.FirstChild != nil {
					out = append(out, "inline <script>")
				}
			case "style":
				out = append(out, "<style> element")
			}
			for _, a := range n.Attr {
				switch {
				case a.Key == "style":
					out = append(out, "style attribute on <"+n.Data+">")
				case strings.HasPrefix(a.Key, "on"), strings.HasPrefix(a.Key, "hx-on"):
					out = append(out, a.Key+" attribute on <"+n.Data+">")
				case strings.HasPrefix(strings.TrimSpace(strings.ToLower(a.Val)), "javascript:"):
					out = append(out, "javascript: URL on <"+n.Data+">")
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// checkPage fails unless p carries the security headers and no inline
// script or style.
func checkPage(t *testing.T, what string, p page) {
	t.Helper()
	for name, want := range map[string]string{
		"Content-Security-Policy": console.ContentSecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
	} {
		if got := p.header.Get(name); got != want {
			t.Errorf("%s: %s = %q, want %q", what, name, got, want)
		}
	}
	for _, must := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
		if !strings.Contains(p.header.Get("Content-Security-Policy"), must) {
			t.Errorf("%s: CSP lacks %s", what, must)
		}
	}
	if strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
		for _, problem := range inlineProblems(t, p.body) {
			t.Errorf("%s: %s", what, problem)
		}
		if strings.Contains(p.body, "htmx.min.js") {
			checkHTMXConfig(t, what, p.body)
		}
	}
}

// checkHTMXConfig fails unless the page configures htmx for the CSP: no
// indicator <style>, no eval, no scripts from swapped content, and no
// page copies in sessionStorage.
func checkHTMXConfig(t *testing.T, what, body string) {
	t.Helper()
	m := regexp.MustCompile(`<meta name="htmx-config" content='([^']*)'>`).FindStringSubmatch(body)
	if m == nil {
		t.Errorf("%s: no htmx-config", what)
		return
	}
	var cfg map[string]any
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &cfg); err != nil {
		t.Errorf("%s: htmx-config is not JSON: %v", what, err)
		return
	}
	for key, want := range map[string]any{"includeIndicatorStyles": false, "allowEval": false, "allowScriptTags": false, "historyCacheSize": 0.0} {
		if cfg[key] != want {
			t.Errorf("%s: htmx-config %s = %v, want %v", what, key, cfg[key], want)
		}
	}
}

func TestEveryPageHasTheCSPAndNoInlineScript(t *testing.T) {
	e := newEnv(t)
	fx := e.fixture()
	b := e.browser()
	checkPage(t, "sign-in page", b.get("/login"))
	checkPage(t, "bad sign-in", b.post("/login", url.Values{"token": {"nope"}}))
	checkPage(t, "redirect to sign-in", b.get("/"))
	b.signIn(operatorToken)
	for _, path := range []string{
		"/", "/deliveries", "/deliveries?state=bogus", "/deliveries?org=org_a&state=undelivered",
		"/events/" + fx.aUndelivered, "/events/" + fx.aWorkflow, "/events/" + newEventID(t),
		"/undelivered", "/undelivered?source=nope", "/undelivered/" + fx.aUndelivered,
		"/secrets", "/secrets?org=org_a", "/no/such/page",
	} {
		checkPage(t, path, b.get(path))
	}
	checkPage(t, "replay review", b.post("/undelivered/replay", url.Values{"event_id": {fx.aUndelivered}}).want(t, http.StatusOK, "review"))
	checkPage(t, "purge review", b.post("/undelivered/purge", url.Values{"org": {"org_b"}}).want(t, http.StatusOK, "review"))
	created := b.post("/secrets/create", url.Values{"org": {"org_a"}}).want(t, http.StatusOK, "create")
	checkPage(t, "new secret", created)
	checkPage(t, "delete review", b.post("/secrets/delete", url.Values{"org": {"org_a"}}).want(t, http.StatusOK, "delete review"))
	job := b.post("/undelivered/replay/confirm", url.Values{"event_id": {fx.aUndelivered}, "count": {"1"}}).want(t, http.StatusSeeOther, "confirm")
	checkPage(t, "job", b.get(job.header.Get("Location")))
	checkPage(t, "finished job", waitJob(t, b, job.header.Get("Location")))
}

func TestAssetsAreHashedAndCachedForever(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	login := b.get("/login")
	urls := regexp.MustCompile(`(?:href|src)="(/assets/[0-9a-f]{16}/[a-z.]+)"`).FindAllStringSubmatch(login.body, -1)
	if len(urls) != 2 {
		t.Fatalf("asset URLs on the sign-in page: %v, want the stylesheet and htmx", urls)
	}
	for _, u := range urls {
		p := b.get(u[1]).want(t, http.StatusOK, u[1])
		if got := p.header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", u[1], got)
		}
		if p.header.Get("Content-Security-Policy") == "" || p.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: security headers missing", u[1])
		}
		stale := regexp.MustCompile(`/assets/[0-9a-f]{16}/`).ReplaceAllString(u[1], "/assets/0000000000000000/")
		b.get(stale).want(t, http.StatusNotFound, "an asset of another release")
	}
	if !strings.Contains(b.get(urls[1][1]).body, `version:"2.0.11"`) && !strings.Contains(b.get(urls[0][1]).body, `version:"2.0.11"`) {
		t.Error("htmx 2.0.11 is not served")
	}
}

func TestCrossOriginPostsAreRefused(t *testing.T) {
	e := newEnv(t)
	fx := e.fixture()
	b := e.browser()
	b.signIn(operatorToken)
	for _, tc := range []struct {
		name string
		h    http.Header
	}{
		{"Sec-Fetch-Site cross-site", http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{"Sec-Fetch-Site same-site", http.Header{"Sec-Fetch-Site": {"same-site"}}},
		{"Origin of another host", http.Header{"Origin": {"https://evil.example"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/undelivered/replay/confirm", "/logout", "/login", "/secrets/roll"} {
				form := url.Values{"event_id": {fx.aUndelivered}, "count": {"1"}, "token": {operatorToken}, "org": {"org_a"}, "overlap_hours": {"0"}}
				p := b.postWith(path, form, tc.h).want(t, http.StatusForbidden, path)
				checkPage(t, path, p)
			}
		})
	}
	b.get("/").want(t, http.StatusOK, "still signed in")
	if ids := e.undeliveredIDs(); len(ids) != 2 {
		t.Fatalf("undelivered after refused posts: %v, want both events still there", ids)
	}
}

func TestReceiverDataIsEscaped(t *testing.T) {
	e := newEnv(t)
	fx := e.fixture()
	b := e.browser()
	b.signIn(operatorToken)
	for _, path := range []string{"/events/" + fx.aUndelivered, "/undelivered/" + fx.aUndelivered} {
		p := b.get(path).want(t, http.StatusOK, path)
		if strings.Contains(p.body, hostile) {
			t.Fatalf("%s shows the excerpt unescaped", path)
		}
		if !strings.Contains(p.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Fatalf("%s does not show the excerpt as text:\n%s", path, p.body)
		}
	}
}
