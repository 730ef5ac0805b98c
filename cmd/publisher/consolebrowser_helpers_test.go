package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	appconfig "github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/natsconn"
	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/internal/service"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/sign"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// xssBody is what the /xss receiver answers, forever, with status 500.
const xssBody = `<script>alert(1)</script>`

// fastRetries is the stack's retry schedule: five retries, 50 ms apart,
// so an undelivered event has six attempts within a second.
const fastRetries = "50ms,50ms,50ms,50ms,50ms"

// receiver is the destination of every delivery: /ok answers 204, /flaky
// 500 until flakyOK is set and then 200, /xss 500 with xssBody. Every
// URL names its organization (?org=), whose secrets the signature must
// verify with.
type receiver struct {
	srv     *httptest.Server
	flakyOK atomic.Bool

	mu       sync.Mutex
	secrets  map[string][]string // by organization
	unsigned []string            // URLs of requests whose signature did not verify
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{secrets: map[string][]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ok", func(w http.ResponseWriter, r *http.Request) {
		rc.check(r)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /flaky", func(w http.ResponseWriter, r *http.Request) {
		rc.check(r)
		if rc.flakyOK.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		http.Error(w, "flaky: not yet", http.StatusInternalServerError)
	})
	mux.HandleFunc("POST /xss", func(w http.ResponseWriter, r *http.Request) {
		rc.check(r)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, xssBody)
	})
	rc.srv = httptest.NewServer(mux)
	t.Cleanup(rc.srv.Close)
	return rc
}

// trust adds a secret that org's deliveries may be signed with.
func (rc *receiver) trust(org, secret string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.secrets[org] = append(rc.secrets[org], secret)
}

// check records r when its signature does not verify.
func (rc *receiver) check(r *http.Request) {
	body, err := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	trusted := rc.secrets[r.URL.Query().Get("org")]
	if err != nil || sign.Verify(r.Header.Get(sign.HeaderName), body, trusted, time.Now(), sign.DefaultTolerance) != nil {
		rc.unsigned = append(rc.unsigned, r.URL.String())
	}
}

// badSignatures returns the URLs of the requests that were not signed
// with a secret of their organization.
func (rc *receiver) badSignatures() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.unsigned...)
}

// consoleStack is the publisher (ingest API and console), a deliverer and
// a log writer, in this process, on one JetStream server and one SQLite
// delivery log, delivering to a receiver. Its events are delivered and
// dead-lettered, and in the log, when newConsoleStack returns.
type consoleStack struct {
	console  string // the console's base URL
	ingest   string // the ingest API's base URL
	operator string // an operator API token
	orgB     string // an API token of org_b
	recv     *receiver
	// events are the event ids by name: a_ok, a_flaky, a_xss, b_ok.
	events map[string]string
	logs   *jstest.LogBuffer
}

func newConsoleStack(t *testing.T) *consoleStack {
	t.Helper()
	ctx := jstest.Context(t, 60*time.Second)
	srv := jstest.Server(t)
	_, js := jstest.Connect(t, srv)
	res, err := streams.Ensure(ctx, js, streams.Config{})
	if err != nil {
		t.Fatal(err)
	}
	setEnv(t, map[string]string{
		"NATS_URL": srv.ClientURL(), "PUBLISHER_TOKENS": "ingest-token", "WEBHOOKS_DEV_MODE": "true",
		"PUBLISHER_CONSOLE_ENABLED": "true", "PUBLISHER_CONSOLE_ADDR": "127.0.0.1:0", "LOG_LEVEL": "info",
		"WEBHOOKS_ALLOW_DESTINATIONS": "127.0.0.0/8", "WEBHOOKS_UNSAFE_ALLOW_HTTP": "true", "RETRY_SCHEDULE": fastRetries,
		"LOG_STORE_URL": "sqlite:" + filepath.Join(t.TempDir(), "deliveries.db"),
	})
	st := &consoleStack{recv: newReceiver(t), logs: &jstest.LogBuffer{}, events: map[string]string{}}
	mgr := &secrets.Manager{KV: res.Secrets, Keyring: secrets.DevKeyring()} // WEBHOOKS_DEV_MODE's key
	for _, org := range []string{"org_a", "org_b"} {
		plaintext, _, err := mgr.Create(ctx, org)
		if err != nil {
			t.Fatal(err)
		}
		st.recv.trust(org, plaintext)
	}
	tokens := apitoken.NewStore(res.Tokens, apitoken.StoreOptions{})
	for _, tk := range []struct {
		dst  *string
		spec apitoken.Spec
	}{
		{&st.operator, apitoken.Spec{Name: "ops-oncall", Scope: apitoken.ScopeOperator}},
		{&st.orgB, apitoken.Spec{Name: "org_b support", Scope: apitoken.ScopeOrg, OrgID: "org_b", Replay: true}},
	} {
		if *tk.dst, _, err = tokens.Create(ctx, tk.spec); err != nil {
			t.Fatal(err)
		}
	}
	st.start(t)
	for _, ev := range []struct{ name, org, path string }{
		{"a_ok", "org_a", "/ok"}, {"a_flaky", "org_a", "/flaky"}, {"a_xss", "org_a", "/xss"}, {"b_ok", "org_b", "/ok"},
	} {
		st.events[ev.name] = st.publish(t, ev.org, ev.name, st.recv.srv.URL+ev.path+"?org="+ev.org)
	}
	st.awaitFinal(t, "a_ok", envelope.StateDelivered, 1)
	st.awaitFinal(t, "b_ok", envelope.StateDelivered, 1)
	st.awaitFinal(t, "a_flaky", envelope.StateUndelivered, 6)
	st.awaitFinal(t, "a_xss", envelope.StateUndelivered, 6)
	return st
}

// start runs the publisher, a deliverer and a log writer until the test
// ends, and waits for the publisher's two listeners.
func (st *consoleStack) start(t *testing.T) {
	t.Helper()
	var deliverer service.DelivererSettings
	var logWriter service.LogWriterSettings
	for _, s := range []any{&deliverer, &logWriter} {
		if err := appconfig.Load(s); err != nil {
			t.Fatal(err)
		}
	}
	deliverer.OpsAddr, deliverer.ShutdownTimeout, logWriter.OpsAddr = "", 5*time.Second, ""
	log := zerolog.New(st.logs).With().Timestamp().Logger()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("logs of the stack:\n%s", st.logs.String())
		}
	})
	runs := map[string]func(*natsconn.Conn) error{
		"deliverer":  func(c *natsconn.Conn) error { return service.RunDeliverer(ctx, deliverer, c, log) },
		"log writer": func(c *natsconn.Conn) error { return service.RunLogWriter(ctx, logWriter, c, nil, log) },
	}
	for name, fn := range runs {
		conn, err := natsconn.Open(deliverer.Config, "test-"+name, log)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer conn.Close()
			if err := fn(conn); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		})
	}
	wg.Go(func() {
		if err := run(ctx, []string{"serve"}, nil, io.Discard, st.logs); err != nil {
			errs <- fmt.Errorf("publisher: %w", err)
		}
	})
	jstest.Eventually(t, 10*time.Second, func() bool {
		select {
		case err := <-errs:
			t.Fatalf("stopped before listening: %v\n%s", err, st.logs.String())
		default:
		}
		st.console, st.ingest = loggedAddr(st.logs.String(), "console listening"), listenAddr(st.logs.String())
		return st.console != "" && st.ingest != ""
	}, "console and ingest API listening in\n%s", st.logs)
	st.console, st.ingest = "http://"+st.console, "http://"+st.ingest
}

// publish posts one job event through the ingest API and returns its id.
func (st *consoleStack) publish(t *testing.T, org, task, url string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"org_id": org, "source": "job", "url": url, "job": map[string]any{
		"task_id": "task-" + task, "status": "completed", "task_type": "find_email",
		"result": map[string]any{"email": [][]string{{"ada@example.com", "OK"}}}}})
	req, _ := http.NewRequest(http.MethodPost, st.ingest+"/v1/events", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer ingest-token")
	req.Header.Set("Content-Type", "application/json")
	code, raw := st.call(t, req)
	var receipt struct {
		EventID string `json:"event_id"`
	}
	if code != http.StatusAccepted || json.Unmarshal(raw, &receipt) != nil || receipt.EventID == "" {
		t.Fatalf("POST /v1/events = %d %s, want 202 and an event id", code, raw)
	}
	return receipt.EventID
}

// timeline reads an event's rounds from the delivery-log API.
func (st *consoleStack) timeline(t *testing.T, name string) (logstore.Timeline, bool) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, st.ingest+"/v1/deliveries/"+st.events[name], nil)
	req.Header.Set("Authorization", "Bearer "+st.operator)
	code, raw := st.call(t, req)
	var tl logstore.Timeline
	if code != http.StatusOK || json.Unmarshal(raw, &tl) != nil || len(tl.Rounds) == 0 {
		return logstore.Timeline{}, false
	}
	return tl, true
}

// lastRound returns the newest round of a timeline.
func lastRound(tl logstore.Timeline) logstore.Round {
	last := tl.Rounds[0]
	for _, r := range tl.Rounds[1:] {
		if r.Replay > last.Replay {
			last = r
		}
	}
	return last
}

// awaitFinal waits until the log holds every attempt of the event's last
// round and that round ended in state; an undelivered event must also be
// in the undelivered stream.
func (st *consoleStack) awaitFinal(t *testing.T, name, state string, attempts int) {
	t.Helper()
	jstest.Eventually(t, 20*time.Second, func() bool {
		tl, ok := st.timeline(t, name)
		if !ok {
			return false
		}
		r := lastRound(tl)
		if !r.Final || r.State != state || r.Attempts != attempts || len(r.AttemptList) != attempts {
			return false
		}
		if state != envelope.StateUndelivered {
			return true
		}
		req, _ := http.NewRequest(http.MethodGet, st.ingest+"/v1/undelivered/"+st.events[name], nil)
		req.Header.Set("Authorization", "Bearer "+st.operator)
		code, _ := st.call(t, req)
		return code == http.StatusOK
	}, "event %s (%s) %s after %d attempts, in the log", name, st.events[name], state, attempts)
}

// call sends req and returns the status and body.
func (st *consoleStack) call(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// Limits of the browser tests.
const (
	// browserBudget bounds the life of the browser, and with it every
	// action of every tab.
	browserBudget = 2 * time.Minute
	// stepTimeout bounds one action (a navigation, a query, a click).
	stepTimeout = 15 * time.Second
)

// browserPath finds a Chromium or Chrome binary. Without one the test is
// skipped, or fails when WEBHOOKS_TEST_REQUIRE_BROWSER=1.
func browserPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no browser (chromium, chromium-browser or google-chrome) on PATH: install one, e.g. apt-get install -y chromium"
	if os.Getenv("WEBHOOKS_TEST_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg + " (WEBHOOKS_TEST_REQUIRE_BROWSER=1)")
	}
	t.Skip(msg)
	return ""
}

// screenshotDir is docs/console of the repository when
// WEBHOOKS_CONSOLE_SCREENSHOTS=1, else a temporary directory, so that an
// ordinary run leaves the tree alone.
func screenshotDir(t *testing.T) string {
	t.Helper()
	if os.Getenv("WEBHOOKS_CONSOLE_SCREENSHOTS") != "1" {
		return t.TempDir()
	}
	dir := filepath.Join("..", "..", "docs", "console") // go test runs in cmd/publisher
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tab is one browser tab on the console. Its actions fail the test.
type tab struct {
	ctx   context.Context
	base  string // the console's base URL
	shots string // where screenshots go

	mu      sync.Mutex
	dialogs []string // messages of the JavaScript dialogs that opened
}

// newBrowser starts one headless browser (1280×900) and returns its first
// tab; the browser ends with the test.
func newBrowser(t *testing.T, path, base, shots string) *tab {
	t.Helper()
	root, cancelRoot := context.WithTimeout(context.Background(), browserBudget)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path),
		chromedp.NoSandbox, // Chromium refuses to run as root (CI, containers) with its sandbox
		chromedp.WindowSize(1280, 900))
	alloc, cancelAlloc := chromedp.NewExecAllocator(root, opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc(); cancelRoot() })
	return openTab(t, ctx, base, shots)
}

// openTab opens the tab of ctx (starting the browser if it is the first)
// and dismisses, and records, every JavaScript dialog that opens in it.
func openTab(t *testing.T, ctx context.Context, base, shots string) *tab {
	t.Helper()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start the browser: %v", err)
	}
	b := &tab{ctx: ctx, base: base, shots: shots}
	t.Cleanup(func() { b.noDialogs(t) })
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, string(ev.Type)+": "+ev.Message)
			b.mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	return b
}

// newTab opens another tab of the same browser (same cookies).
func (b *tab) newTab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	return openTab(t, ctx, b.base, b.shots)
}

// takeDialogs returns the dialogs that opened so far, and forgets them.
func (b *tab) takeDialogs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := b.dialogs
	b.dialogs = nil
	return d
}

// noDialogs fails the test if any JavaScript dialog opened.
func (b *tab) noDialogs(t *testing.T) {
	t.Helper()
	if d := b.takeDialogs(); len(d) > 0 {
		t.Errorf("JavaScript dialogs opened: %q", d)
	}
}

// get runs one action within stepTimeout and returns its value.
func get[T any](t *testing.T, b *tab, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// do runs steps within stepTimeout.
func (b *tab) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	get(t, b, chromedp.Steps(steps...))
}

// open loads path and returns the HTTP status of the page.
func (b *tab) open(t *testing.T, path string) int64 {
	t.Helper()
	return get(t, b, chromedp.NavigateResponse(b.base+path)).Status
}

// follow runs steps that load a page (a click on a link or a submit
// button) and returns the HTTP status of the page they load.
func (b *tab) follow(t *testing.T, steps ...chromedp.Action[chromedp.Void]) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return resp.Status
}

// click clicks the element of the CSS selector sel, which loads a page.
func (b *tab) click(t *testing.T, sel string) int64 {
	t.Helper()
	return b.follow(t, chromedp.Click(chromedp.CSS(sel)))
}

// text returns the rendered text of the first element of sel.
func (b *tab) text(t *testing.T, sel string) string {
	t.Helper()
	return strings.TrimSpace(get(t, b, chromedp.Text(chromedp.CSS(sel))))
}

// html returns the whole document as HTML.
func (b *tab) html(t *testing.T) string {
	t.Helper()
	return get(t, b, chromedp.OuterHTML(chromedp.CSS("html")))
}

// path returns the path and query of the page shown.
func (b *tab) path(t *testing.T) string {
	t.Helper()
	return strings.TrimPrefix(get(t, b, chromedp.Location()), b.base)
}

// cells returns the text of every cell of the rows sel selects, row by row.
func (b *tab) cells(t *testing.T, sel string) [][]string {
	t.Helper()
	js := fmt.Sprintf(`[...document.querySelectorAll(%q)].map(r => [...r.cells].map(c => c.innerText.trim()))`, sel)
	return get(t, b, chromedp.Evaluate[[][]string](js))
}

// attrs returns the attribute name of every element sel selects.
func (b *tab) attrs(t *testing.T, sel, name string) []string {
	t.Helper()
	js := fmt.Sprintf(`[...document.querySelectorAll(%q)].map(e => e.getAttribute(%q))`, sel, name)
	return get(t, b, chromedp.Evaluate[[]string](js))
}

// signIn signs in on /login with token and lands on the overview.
func (b *tab) signIn(t *testing.T, token string) {
	t.Helper()
	b.open(t, "/login")
	b.do(t, chromedp.SendKeys(chromedp.CSS("#token"), token))
	if code := b.click(t, `form[action="/login"] button[type=submit]`); code != 200 {
		t.Fatalf("sign-in answered %d, want the overview (200)", code)
	}
	if p := b.path(t); p != "/" {
		t.Fatalf("after sign-in the page is %s, want /", p)
	}
}

// signOut clicks Sign out and lands on the sign-in page.
func (b *tab) signOut(t *testing.T) {
	t.Helper()
	if code := b.click(t, `form[action="/logout"] button`); code != 200 || b.path(t) != "/login" {
		t.Fatalf("sign out = %d on %s, want /login", code, b.path(t))
	}
}

// screenshot saves a full-page PNG of the page shown as <name>.png.
func (b *tab) screenshot(t *testing.T, name string) {
	t.Helper()
	png := get(t, b, chromedp.FullScreenshot(100)) // quality 100 is PNG; anything else is JPEG
	file := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes)", file, len(png))
}

// eventually reloads path until cond holds for the page, within d.
func (b *tab) eventually(t *testing.T, d time.Duration, path string, cond func(html string) bool, what string) {
	t.Helper()
	jstest.Eventually(t, d, func() bool { b.open(t, path); return cond(b.html(t)) }, "%s on %s", what, path)
}

// sameSet reports whether got and want hold the same strings.
func sameSet(got, want []string) bool {
	got, want = slices.Clone(got), slices.Clone(want)
	slices.Sort(got)
	slices.Sort(want)
	return slices.Equal(got, want)
}

// disableScripts turns JavaScript off in the tab, for every page it loads.
func (b *tab) disableScripts(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("disable JavaScript: %v", err)
	}
}
