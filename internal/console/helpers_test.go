package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/internal/console"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logstore/sqlitestore"
	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// operatorToken is the environment's operator token in every test.
const operatorToken = "operator-token-for-tests"

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one test's console on a real JetStream server, SQLite log,
// token store and secret manager.
type env struct {
	t       *testing.T
	ctx     context.Context
	js      jetstream.JetStream
	sc      streams.Config
	res     *streams.Resources
	store   *sqlitestore.Store
	tokens  *apitoken.Store
	secrets *secrets.Manager
	clock   *clock
	logs    *jstest.LogBuffer
	srv     *httptest.Server
	handler http.Handler
}

// options change an env before the console is made.
type options struct {
	// wrapLog replaces the log store the console is given.
	wrapLog func(logstore.Store) logstore.Store
	// noSecrets gives the console no secret manager.
	noSecrets bool
	// noMasterKey gives the secret manager no keyring.
	noMasterKey bool
}

func newEnv(t *testing.T) *env { return newEnvWith(t, options{}) }

func newEnvWith(t *testing.T, o options) *env {
	t.Helper()
	_, js, res := jstest.Pipeline(t, streams.Config{})
	e := &env{t: t, ctx: jstest.Context(t, 60*time.Second), js: js, sc: streams.Config{}.WithDefaults(), res: res,
		clock: &clock{t: time.Now().UTC()}, logs: &jstest.LogBuffer{}}
	var err error
	e.store, err = sqlitestore.Open(e.ctx, filepath.Join(t.TempDir(), "log.db"), logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.store.Close() })
	e.tokens = apitoken.NewStore(res.Tokens, apitoken.StoreOptions{})
	e.secrets = &secrets.Manager{KV: res.Secrets, Keyring: secrets.DevKeyring()}
	if o.noMasterKey {
		e.secrets.Keyring = nil
	}
	jobCtx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg := console.Config{
		Auth:    apitoken.NewAuthenticator(e.tokens, "PUBLISHER_ADMIN_TOKENS", []string{operatorToken}),
		Log:     e.store,
		JS:      js,
		Secrets: e.secrets,
		Logger:  zerolog.New(e.logs),
		Now:     e.clock.Now,
		Context: jobCtx,
	}
	if o.wrapLog != nil {
		cfg.Log = o.wrapLog(e.store)
	}
	if o.noSecrets {
		cfg.Secrets = nil
	}
	e.handler, err = console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.handler)
	t.Cleanup(e.srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("console log:\n%s", e.logs.String())
		}
	})
	return e
}

// orgToken creates a stored organization token.
func (e *env) orgToken(org string, replay bool) string {
	e.t.Helper()
	token, _, err := e.tokens.Create(e.ctx, apitoken.Spec{Name: org + " support", Scope: apitoken.ScopeOrg, OrgID: org, Replay: replay})
	if err != nil {
		e.t.Fatal(err)
	}
	return token
}

// browser is a cookie jar and a client that does not follow redirects.
type browser struct {
	t    *testing.T
	e    *env
	c    *http.Client
	base *url.URL
}

func (e *env) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	base, _ := url.Parse(e.srv.URL)
	return &browser{t: e.t, e: e, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is a response, its body read.
type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// get loads path, as a browser does.
func (b *browser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.e.ctx, http.MethodGet, b.e.srv.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Sec-Fetch-Site", "none")
	return b.do(req)
}

// post submits a form from one of the console's own pages.
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	return b.postWith(path, form, http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {b.e.srv.URL}})
}

// postWith submits a form with the given extra headers.
func (b *browser) postWith(path string, form url.Values, h http.Header) page {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.e.ctx, http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range h {
		req.Header[k] = v
	}
	return b.do(req)
}

// signIn signs in with token and checks that it worked.
func (b *browser) signIn(token string) {
	b.t.Helper()
	p := b.post("/login", url.Values{"token": {token}, "next": {"/"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/" {
		b.t.Fatalf("sign-in: %d %q, want 303 to /; body %s", p.status, p.header.Get("Location"), p.body)
	}
}

// cookie returns the session cookie the jar holds; "" when none.
func (b *browser) cookie() string {
	for _, c := range b.c.Jar.Cookies(b.base) {
		if c.Name == console.CookieName {
			return c.Value
		}
	}
	return ""
}

// want checks a page's status.
func (p page) want(t *testing.T, status int, what string) page {
	t.Helper()
	if p.status != status {
		t.Fatalf("%s: status %d, want %d; body:\n%s", what, p.status, status, p.body)
	}
	return p
}

// newEventID returns a fresh event id.
func newEventID(t *testing.T) string {
	t.Helper()
	id, err := envelope.NewEventID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}
