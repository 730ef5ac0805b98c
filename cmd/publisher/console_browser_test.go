package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

// secretPattern is a signing secret as the one-time page shows it.
var secretPattern = regexp.MustCompile(`^` + sign.SecretPrefix + `[0-9a-f]{64}$`)

// TestConsoleBrowser drives the web console in a headless browser over the
// whole pipeline: events published through the ingest API, delivered or
// dead-lettered by a deliverer, written to the log by a log writer, then
// read, replayed, re-keyed and scoped in the console. The steps share one
// browser and build on one another (the session, the replay), so the
// first failing step ends the test.
func TestConsoleBrowser(t *testing.T) {
	path := browserPath(t)
	st := newConsoleStack(t)
	b := newBrowser(t, path, st.console, screenshotDir(t))
	steps := []struct {
		name string
		run  func(*testing.T, *tab, *consoleStack)
	}{
		{"sign in and overview", browseOverview},
		{"delivery log search", browseSearch},
		{"event timeline", browseTimeline},
		{"receiver markup is text", browseMarkup},
		{"replay", browseReplay},
		{"roll secret", browseRoll},
		{"organization scope", browseScope},
		{"JavaScript off", browseWithoutScripts},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { s.run(t, b, st); b.noDialogs(t) }) {
			t.Fatalf("step %q failed: the later steps need it", s.name)
		}
	}
	if bad := st.recv.badSignatures(); len(bad) > 0 {
		t.Errorf("deliveries not signed with their organization's secret: %q", bad)
	}
}

// browseOverview signs in with the operator token: the overview counts
// the events by state.
func browseOverview(t *testing.T, b *tab, st *consoleStack) {
	b.signIn(t, st.operator)
	if got, want := b.text(t, "header .who span"), "Signed in as ops-oncall: operator, every organization"; got != want {
		t.Errorf("header = %q, want %q", got, want)
	}
	rows := b.cells(t, "table.counts tbody tr")
	want := [][]string{{"Last hour", "0", "2", "2"}, {"Last 24 hours", "0", "2", "2"}}
	if len(rows) < 2 || !slices.Equal(rows[0], want[0]) || !slices.Equal(rows[1], want[1]) {
		t.Errorf("counts (retrying, delivered, undelivered) = %q, want %q first", rows, want)
	}
	if got := b.text(t, ".undelivered-count"); got != "2" {
		t.Errorf("undelivered count = %q, want 2", got)
	}
	b.screenshot(t, "overview")
}

// browseSearch filters the delivery log (org_a, undelivered) with the
// form, which htmx submits: the two failed events, each linking to its
// page.
func browseSearch(t *testing.T, b *tab, st *consoleStack) {
	ev := st.events
	b.open(t, "/deliveries")
	if got := get(t, b, chromedp.Evaluate[string](`typeof htmx`)); got != "object" {
		t.Errorf("typeof htmx = %q, want object (JavaScript on)", got)
	}
	b.do(t, chromedp.SendKeys(chromedp.CSS(`input[name=org]`), "org_a"),
		chromedp.SetValue(chromedp.CSS(`select[name=state]`), "undelivered"),
		chromedp.Click(chromedp.CSS(`form.filters button[type=submit]`)))
	jstest.Eventually(t, stepTimeout, func() bool {
		return strings.Contains(b.path(t), "state=undelivered") && len(b.cells(t, "#results tbody tr")) == 2
	}, "two rows of org_a, undelivered")
	for _, row := range b.cells(t, "#results tbody tr") {
		if len(row) != 9 || row[5] != "undelivered" || row[6] != "6" || row[7] != "500" {
			t.Errorf("row %q, want state undelivered, 6 attempts, status 500", row)
		}
	}
	want := []string{"/events/" + ev["a_flaky"], "/events/" + ev["a_xss"]}
	if got := b.attrs(t, "#results tbody tr a.mono", "href"); !sameSet(got, want) {
		t.Errorf("rows link to %q, want %q", got, want)
	}
	b.screenshot(t, "deliveries")
}

// browseTimeline follows the flaky event's link: six attempts with status
// 500, five retries 50 ms apart and the dead letter, with the request
// headers and body the log recorded.
func browseTimeline(t *testing.T, b *tab, st *consoleStack) {
	id := st.events["a_flaky"]
	if code := b.click(t, `#results a[href="/events/`+id+`"]`); code != 200 {
		t.Fatalf("event page = %d, want 200", code)
	}
	if got := b.text(t, "h1"); !strings.Contains(got, id) {
		t.Errorf("heading %q does not name the event", got)
	}
	rows := b.cells(t, "table.attempts > tbody > tr:not(.detail)")
	if len(rows) != 6 {
		t.Fatalf("attempt rows = %q, want 6", rows)
	}
	for i, row := range rows {
		decision, delay := "retry", "50ms"
		if i == 5 {
			decision, delay = "undelivered", "–"
		}
		if row[0] != fmt.Sprint(i+1) || row[2] != "500" || row[4] != decision || !strings.HasPrefix(row[5], delay) {
			t.Errorf("attempt row %q, want #%d status 500 decision %s delay %s", row, i+1, decision, delay)
		}
	}
	if got := b.text(t, "pre.excerpt"); got != "flaky: not yet" {
		t.Errorf("response excerpt = %q, want the receiver's", got)
	}
	if !strings.Contains(b.text(t, ".notice"), "in the undelivered stream") {
		t.Error("no notice that the event is undelivered")
	}
	tl, _ := st.timeline(t, "a_flaky")
	if len(lastRound(tl).AttemptList[0].RequestHeaders) == 0 {
		t.Log("the log records no request headers: the page cannot show them")
	} else {
		headers := get(t, b, chromedp.TextContent(chromedp.CSS("table.headers")))
		for _, h := range []string{sign.HeaderName, "Sixtyfour-Event-Id", id} {
			if !strings.Contains(headers, h) {
				t.Errorf("request headers lack %q: %s", h, headers)
			}
		}
		if body := b.text(t, "pre.body"); !strings.Contains(body, `"task_id": "task-a_flaky"`) {
			t.Errorf("request body = %s, want the job's", body)
		}
		b.do(t, chromedp.Click(chromedp.CSS("table.attempts details summary"))) // open attempt 1's headers
	}
	b.screenshot(t, "event")
}

// browseMarkup shows the /xss receiver's answer, a script element, as
// text on the event and failure pages: no dialog opens, no script element
// holds it. A dialog the test opens itself first shows that the watch on
// dialogs sees them.
func browseMarkup(t *testing.T, b *tab, st *consoleStack) {
	probe := b.newTab(t)
	probe.open(t, "/login")
	get(t, probe, chromedp.Evaluate[chromedp.Void](`alert("probe")`))
	if got := probe.takeDialogs(); !slices.Equal(got, []string{"alert: probe"}) {
		t.Fatalf("the dialog watch saw %q, want the probe's alert", got)
	}
	for _, p := range []string{"/events/" + st.events["a_xss"], "/undelivered/" + st.events["a_xss"]} {
		if code := b.open(t, p); code != 200 {
			t.Fatalf("%s = %d, want 200", p, code)
		}
		if got := get(t, b, chromedp.TextContent(chromedp.CSS("pre.excerpt"))); got != xssBody {
			t.Errorf("%s: excerpt text = %q, want %q", p, got, xssBody)
		}
		if html := b.html(t); !strings.Contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: the excerpt is not escaped in the document", p)
		}
		scripts := get(t, b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("script")].map(s => s.src + " " + s.textContent)`))
		for _, s := range scripts {
			if strings.Contains(s, "alert") || !strings.Contains(s, "/assets/") {
				t.Errorf("%s: script element %q, want only the console's own", p, s)
			}
		}
	}
}

// browseReplay replays the flaky event once its receiver answers 200: the
// review counts 1, the job ends done, and the event is delivered (replay
// 1) and leaves the undelivered list.
func browseReplay(t *testing.T, b *tab, st *consoleStack) {
	ev := st.events
	b.open(t, "/undelivered")
	want := []string{"/undelivered/" + ev["a_flaky"], "/undelivered/" + ev["a_xss"]}
	if got := b.attrs(t, "#results tbody a.mono", "href"); !sameSet(got, want) {
		t.Errorf("undelivered rows link to %q, want %q", got, want)
	}
	b.screenshot(t, "undelivered")
	st.recv.flakyOK.Store(true)
	if code := b.click(t, `#results form[action="/undelivered/replay"]:has(input[value="`+ev["a_flaky"]+`"]) button`); code != 200 {
		t.Fatalf("replay review = %d, want 200", code)
	}
	if got := b.text(t, "p.confirm"); !strings.HasPrefix(got, "1 event will be replayed") {
		t.Errorf("review says %q, want 1 event", got)
	}
	if got := b.attrs(t, `form.confirm-form input[name=count]`, "value"); !slices.Equal(got, []string{"1"}) {
		t.Errorf("confirmed count = %q, want 1", got)
	}
	if got := b.attrs(t, "main table a.mono", "href"); !slices.Equal(got, want[:1]) {
		t.Errorf("review lists %q, want the flaky event only", got)
	}
	b.screenshot(t, "replay")
	if code := b.click(t, `form.confirm-form button[type=submit]`); code != 200 || !strings.HasPrefix(b.path(t), "/jobs/") {
		t.Fatalf("confirm = %d on %s, want the job page", code, b.path(t))
	}
	b.do(t, chromedp.WaitVisible(chromedp.CSS("#progress p.state-done"))) // htmx polls the progress
	if got := b.text(t, "#progress"); !strings.Contains(got, "Replayed 1, skipped 0 (already replayed or gone), failed 0, of 1 selected.") {
		t.Errorf("job result = %q", got)
	}
	b.screenshot(t, "job")
	b.eventually(t, 20*time.Second, "/events/"+ev["a_flaky"], func(html string) bool {
		return strings.Contains(html, "Replay 1") && strings.Contains(html, "state-delivered")
	}, "replay 1 delivered")
	b.open(t, "/deliveries?org=org_a&state=delivered")
	if got := b.attrs(t, "#results tbody a.mono", "href"); !slices.Contains(got, "/events/"+ev["a_flaky"]) {
		t.Errorf("delivered rows of org_a link to %q, want the flaky event among them", got)
	}
	b.open(t, "/undelivered")
	if got := b.attrs(t, "#results tbody a.mono", "href"); !slices.Equal(got, want[1:]) {
		t.Errorf("undelivered after the replay = %q, want the xss event only", got)
	}
}

// browseRoll rolls org_a's secret with a one-hour overlap: the new secret
// is shown once, and neither opening the secrets page nor reloading it
// shows it again.
func browseRoll(t *testing.T, b *tab, st *consoleStack) {
	b.open(t, "/secrets?org=org_a")
	b.do(t, chromedp.SetValue(chromedp.CSS(`input[name=overlap_hours]`), "1"))
	if code := b.click(t, `form[action="/secrets/roll"] button[type=submit]`); code != 200 {
		t.Fatalf("roll = %d, want 200", code)
	}
	plaintext := b.text(t, "code.secret")
	if !secretPattern.MatchString(plaintext) {
		t.Fatalf("the one-time page shows %q, want a secret %s…", plaintext, sign.SecretPrefix)
	}
	st.recv.trust("org_a", plaintext)
	if got := b.text(t, "main h1 + p"); !strings.HasPrefix(got, "The previous secret keeps signing (second v1) for") {
		t.Errorf("the one-time page says %q, want the overlap", got)
	}
	preview := b.text(t, "main dl.facts dd:nth-of-type(2)")
	shownOnce := func(how string) {
		if html := b.html(t); strings.Contains(html, plaintext[len(sign.SecretPrefix):]) {
			t.Errorf("the secrets page shows the new secret again (%s)", how)
		}
		if got := b.text(t, "main dl.facts dd:nth-of-type(1) .mono"); got != preview {
			t.Errorf("active secret = %q, want the new one's preview %q (%s)", got, preview, how)
		}
		if got := b.text(t, "main dl.facts dd:nth-of-type(4)"); !strings.HasPrefix(got, "still signs (second v1) until") {
			t.Errorf("previous secret = %q, want it still signing (%s)", got, how)
		}
	}
	b.open(t, "/secrets?org=org_a")
	shownOnce("opened")
	b.do(t, chromedp.Reload())
	shownOnce("reloaded")
	b.screenshot(t, "secrets")
}

// browseScope signs in with org_b's token: org_a's pages are the
// not-found page, and the delivery log lists org_b's event alone; no page
// holds anything of org_a.
func browseScope(t *testing.T, b *tab, st *consoleStack) {
	ev := st.events
	b.signOut(t)
	b.signIn(t, st.orgB)
	markers := []string{"org_a", "task-a_", ev["a_ok"], ev["a_flaky"], ev["a_xss"]}
	nothingOfA := func(where string) {
		html := b.html(t)
		for _, m := range markers {
			if strings.Contains(html, m) {
				t.Errorf("%s shows org_a's %q", where, m)
			}
		}
	}
	for _, p := range []string{"/events/" + ev["a_flaky"], "/undelivered/" + ev["a_xss"], "/deliveries?org=org_a"} {
		if code, h1 := b.open(t, p), b.text(t, "h1"); code != 404 || h1 != "Not found" {
			t.Errorf("%s for org_b = %d %q, want 404 Not found", p, code, h1)
		}
		nothingOfA(p)
	}
	b.open(t, "/deliveries")
	if got := b.attrs(t, "#results tbody a.mono", "href"); !slices.Equal(got, []string{"/events/" + ev["b_ok"]}) {
		t.Errorf("org_b's delivery log links to %q, want org_b's event only", got)
	}
	nothingOfA("/deliveries")
	b.screenshot(t, "org-scope")
}

// browseWithoutScripts reads the console in a tab with JavaScript off:
// the filter form loads a page, the event page shows its attempts.
func browseWithoutScripts(t *testing.T, b *tab, st *consoleStack) {
	id := st.events["a_xss"]
	nb := b.newTab(t)
	nb.disableScripts(t)
	nb.open(t, "/") // the session of the first tab: org_b's
	nb.signOut(t)
	nb.signIn(t, st.operator)
	if got := get(t, nb, chromedp.Evaluate[string](`typeof htmx`)); got != "undefined" {
		t.Errorf("typeof htmx = %q, want undefined (JavaScript off)", got)
	}
	nb.open(t, "/deliveries")
	nb.do(t, chromedp.SendKeys(chromedp.CSS(`input[name=org]`), "org_a"),
		chromedp.SetValue(chromedp.CSS(`select[name=state]`), "undelivered"))
	if code := nb.click(t, `form.filters button[type=submit]`); code != 200 || !strings.Contains(nb.path(t), "state=undelivered") {
		t.Fatalf("search = %d on %s, want a page load with the filter", code, nb.path(t))
	}
	if got := nb.attrs(t, "#results tbody a.mono", "href"); !slices.Equal(got, []string{"/events/" + id}) {
		t.Errorf("rows link to %q, want the xss event alone (the flaky one was delivered)", got)
	}
	if code := nb.click(t, `#results a[href="/events/`+id+`"]`); code != 200 {
		t.Fatalf("event page = %d, want 200", code)
	}
	nb.do(t, chromedp.WaitVisible(chromedp.CSS("table.attempts tbody tr")))
	if rows := nb.cells(t, "table.attempts > tbody > tr:not(.detail)"); len(rows) != 6 {
		t.Errorf("attempt rows = %d, want 6", len(rows))
	}
	nb.noDialogs(t)
}
