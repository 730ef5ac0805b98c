package console_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/console"
)

func TestSignInAndOut(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.get("/").want(t, http.StatusSeeOther, "signed out")
	b.get("/login").want(t, http.StatusOK, "sign-in page")

	p := b.post("/login", url.Values{"token": {operatorToken}, "next": {"/deliveries?state=delivered"}})
	p.want(t, http.StatusSeeOther, "sign-in")
	if got, want := p.header.Get("Location"), "/deliveries?state=delivered"; got != want {
		t.Fatalf("after sign-in: Location %q, want %q", got, want)
	}
	set := p.header.Values("Set-Cookie")
	if len(set) != 1 {
		t.Fatalf("Set-Cookie = %q, want one cookie", set)
	}
	c, err := http.ParseSetCookie(set[0])
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != console.CookieName || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
		t.Fatalf("cookie %+v: want %s, HttpOnly, SameSite=Strict, Path=/, not Secure on plain HTTP to 127.0.0.1", c, console.CookieName)
	}
	if len(c.Value) < 43 || strings.Contains(c.Value, operatorToken) {
		t.Fatalf("cookie value %q: want a random id of 32 bytes, never the token", c.Value)
	}
	first := b.cookie()
	home := b.get("/").want(t, http.StatusOK, "overview")
	if !strings.Contains(home.body, "PUBLISHER_ADMIN_TOKENS #1") || !strings.Contains(home.body, "every organization") {
		t.Fatalf("the header does not say who is signed in:\n%s", home.body)
	}

	// Signing in again rotates the id and ends the old session.
	old := first
	b.signIn(operatorToken)
	if b.cookie() == old {
		t.Fatal("sign-in kept the session id")
	}
	stale := e.browser()
	stale.c.Jar.SetCookies(stale.base, []*http.Cookie{{Name: console.CookieName, Value: old, Path: "/"}})
	stale.get("/").want(t, http.StatusSeeOther, "the session before the second sign-in")

	p = b.post("/logout", nil).want(t, http.StatusSeeOther, "sign-out")
	if p.header.Get("Location") != "/login" {
		t.Fatalf("after sign-out: Location %q, want /login", p.header.Get("Location"))
	}
	if b.cookie() != "" {
		t.Fatal("sign-out left the cookie")
	}
	replayed := e.browser()
	replayed.c.Jar.SetCookies(replayed.base, []*http.Cookie{{Name: console.CookieName, Value: first, Path: "/"}})
	replayed.get("/").want(t, http.StatusSeeOther, "a signed-out session's cookie")
	if e.logs.Contains(operatorToken) {
		t.Fatal("a token was logged")
	}
}

func TestSecureCookie(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name   string
		host   string
		tls    bool
		secure bool
	}{
		{"loopback IPv4 over HTTP", "127.0.0.1:8080", false, false},
		{"localhost over HTTP", "localhost:8080", false, false},
		{"loopback IPv6 over HTTP", "[::1]:8080", false, false},
		{"a public name over HTTP (behind a TLS proxy)", "console.example.com", false, true},
		{"loopback over TLS", "127.0.0.1:8443", true, true},
		{"a public name over TLS", "console.example.com", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "http://"+tc.host+"/login", strings.NewReader(url.Values{"token": {operatorToken}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.RemoteAddr = "192.0.2.1:1234"
			if tc.tls {
				req.TLS = &tls.ConnectionState{}
			}
			rec := httptest.NewRecorder()
			e.handler.ServeHTTP(rec, req)
			cookies := rec.Result().Cookies()
			if rec.Code != http.StatusSeeOther || len(cookies) != 1 {
				t.Fatalf("sign-in: %d, cookies %v", rec.Code, cookies)
			}
			if got := cookies[0].Secure; got != tc.secure {
				t.Fatalf("Secure = %v, want %v", got, tc.secure)
			}
		})
	}
}

func TestBadSessionGoesToSignIn(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, path, cookie, wantLocation string
	}{
		{"no cookie", "/deliveries?state=undelivered", "", "/login?next=" + url.QueryEscape("/deliveries?state=undelivered")},
		{"unknown session", "/undelivered", "bm90LWEtc2Vzc2lvbg", "/login?next=%2Fundelivered"},
		{"garbage cookie", "/", strings.Repeat("x", 500), "/login"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			if tc.cookie != "" {
				b.c.Jar.SetCookies(b.base, []*http.Cookie{{Name: console.CookieName, Value: tc.cookie, Path: "/"}})
			}
			p := b.get(tc.path).want(t, http.StatusSeeOther, tc.path)
			if got := p.header.Get("Location"); got != tc.wantLocation {
				t.Fatalf("Location %q, want %q", got, tc.wantLocation)
			}
		})
	}
	t.Run("htmx request", func(t *testing.T) {
		b := e.browser()
		req, _ := http.NewRequestWithContext(e.ctx, http.MethodGet, e.srv.URL+"/deliveries", nil)
		req.Header.Set("HX-Request", "true")
		p := b.do(req)
		if p.status != http.StatusUnauthorized || p.header.Get("HX-Redirect") != "/login?next=%2Fdeliveries" {
			t.Fatalf("htmx without a session: %d, HX-Redirect %q", p.status, p.header.Get("HX-Redirect"))
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t)
	t.Run("idle", func(t *testing.T) {
		b := e.browser()
		b.signIn(operatorToken)
		e.clock.advance(console.IdleTimeout - time.Minute)
		b.get("/").want(t, http.StatusOK, "59 minutes idle")
		e.clock.advance(console.IdleTimeout)
		b.get("/").want(t, http.StatusSeeOther, "an hour idle")
	})
	t.Run("absolute", func(t *testing.T) {
		b := e.browser()
		b.signIn(operatorToken)
		for range 12 {
			e.clock.advance(59 * time.Minute)
			b.get("/").want(t, http.StatusOK, "busy session")
		}
		e.clock.advance(15 * time.Minute)
		b.get("/").want(t, http.StatusSeeOther, "a busy session after 12 h")
	})
}

func TestRevokedTokenEndsItsSessions(t *testing.T) {
	e := newEnv(t)
	token := e.orgToken("org_a", false)
	b := e.browser()
	b.signIn(token)
	b.get("/deliveries").want(t, http.StatusOK, "before the revoke")
	recs, err := e.tokens.List(e.ctx)
	if err != nil || len(recs) != 1 {
		t.Fatalf("tokens: %v, %v", recs, err)
	}
	if err := e.tokens.Revoke(e.ctx, recs[0].ID); err != nil {
		t.Fatal(err)
	}
	b.get("/deliveries").want(t, http.StatusSeeOther, "after the revoke")
}

func TestNextIsLocalOnly(t *testing.T) {
	e := newEnv(t)
	for _, next := range []string{
		"https://evil.example/", "//evil.example/x", "/\\evil.example", "\\\\evil.example", "/\t/evil.example",
		"javascript:alert(1)", "evil.example", "http:/evil.example", "",
	} {
		t.Run(next, func(t *testing.T) {
			b := e.browser()
			p := b.post("/login", url.Values{"token": {operatorToken}, "next": {next}}).want(t, http.StatusSeeOther, "sign-in")
			if got := p.header.Get("Location"); got != "/" {
				t.Fatalf("next %q: Location %q, want /", next, got)
			}
			form := b.get("/login?next=" + url.QueryEscape(next))
			if form.status == http.StatusSeeOther && form.header.Get("Location") != "/" {
				t.Fatalf("signed in, /login?next=%q went to %q", next, form.header.Get("Location"))
			}
		})
	}
	b := e.browser()
	page := b.get("/login?next="+url.QueryEscape("//evil.example")).want(t, http.StatusOK, "sign-in page")
	if strings.Contains(page.body, "evil.example") {
		t.Fatal("the sign-in form carries a foreign next")
	}
}

func TestBadSignInsAreLimited(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	for i := range console.BadSignInBurst {
		b.post("/login", url.Values{"token": {"wrong-" + string(rune('a'+i))}}).want(t, http.StatusUnauthorized, "a bad sign-in")
	}
	p := b.post("/login", url.Values{"token": {operatorToken}}).want(t, http.StatusTooManyRequests, "the 11th sign-in")
	if !strings.Contains(p.body, "Too many attempts, wait ") || p.header.Get("Retry-After") == "" {
		t.Fatalf("429 without the wait: Retry-After %q, body:\n%s", p.header.Get("Retry-After"), p.body)
	}
	if b.cookie() != "" {
		t.Fatal("a limited sign-in started a session")
	}
	// Another address is not limited, and the allowance comes back with time.
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/login", strings.NewReader(url.Values{"token": {operatorToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = "192.0.2.77:4444"
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("another address: %d, want 303", rec.Code)
	}
	e.clock.advance(console.BadSignInWindow / console.BadSignInBurst)
	b.signIn(operatorToken)
}
