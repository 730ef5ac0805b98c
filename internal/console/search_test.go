package console_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	nethtml "golang.org/x/net/html"
)

// fieldError returns the error shown next to the input named name: the
// text of the field-error element inside the same label. found is false
// when the page has no such input.
func fieldError(t *testing.T, body, name string) (msg string, found bool) {
	t.Helper()
	doc, err := nethtml.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var label *nethtml.Node
	var find func(n *nethtml.Node, in *nethtml.Node)
	find = func(n, in *nethtml.Node) {
		if n.Type == nethtml.ElementNode && n.Data == "label" {
			in = n
		}
		if n.Type == nethtml.ElementNode && (n.Data == "input" || n.Data == "select") && attr(n, "name") == name {
			label = in
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			find(c, in)
		}
	}
	find(doc, nil)
	if label == nil {
		return "", false
	}
	var text func(n *nethtml.Node) string
	text = func(n *nethtml.Node) string {
		if n.Type == nethtml.TextNode {
			return n.Data
		}
		var s string
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			s += text(c)
		}
		return s
	}
	for c := label.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == nethtml.ElementNode && strings.Contains(attr(c, "class"), "field-error") {
			return text(c), true
		}
	}
	return "", true
}

// filterCase is a bad parameter and the error it must show, next to its
// field (field "") or above the form (field "").
type filterCase struct {
	name, query, field, want string
}

func checkFilterErrors(t *testing.T, b *browser, path string, cases []filterCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := b.get(path+"?"+tc.query).want(t, http.StatusBadRequest, tc.query)
			if tc.field == "" {
				if !strings.Contains(html.UnescapeString(p.body), tc.want) {
					t.Fatalf("%s: no error %q above the form:\n%s", tc.query, tc.want, p.body)
				}
				return
			}
			msg, found := fieldError(t, p.body, tc.field)
			if !found {
				t.Fatalf("%s: the page has no %s input", tc.query, tc.field)
			}
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("%s: error next to %s = %q, want %q", tc.query, tc.field, msg, tc.want)
			}
		})
	}
}

func TestDeliveriesFilterErrorsAreNextToTheirField(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(operatorToken)
	checkFilterErrors(t, b, "/deliveries", []filterCase{
		{"org", "org=" + url.QueryEscape("bad org!"), "org", "must match"},
		{"from", "from=yesterday", "from", "must be a time"},
		{"to", "to=2026-13-01T00:00", "to", "must be a time"},
		{"to before from", "from=2026-12-06T10:00&to=2026-12-06T09:00", "to", "must be after from"},
		{"state", "state=lost", "state", "must be retrying, delivered or undelivered"},
		{"source", "source=cron", "source", "must be job or workflow"},
		{"event type", "event_type=" + strings.Repeat("x", 300), "event_type", "is too long"},
		{"host", "host=" + strings.Repeat("h", 254), "host", "longer than 253"},
		{"status class", "status_class=6xx", "status_class", "must be 2xx, 3xx, 4xx, 5xx or none"},
		{"limit zero", "limit=0", "limit", "between 1 and 500"},
		{"limit word", "limit=ten", "limit", "between 1 and 500"},
		{"limit too big", "limit=501", "limit", "between 1 and 500"},
		{"repeated", "state=delivered&state=retrying", "state", "given more than once"},
		{"unknown parameter", "bogus=1", "", "unknown parameter “bogus”"},
		{"cursor", "cursor=not-a-cursor", "", "the page link is not valid"},
	})
}

func TestUndeliveredFilterErrorsAreNextToTheirField(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(operatorToken)
	checkFilterErrors(t, b, "/undelivered", []filterCase{
		{"org", "org=" + url.QueryEscape("bad org!"), "org", "must match"},
		{"source", "source=cron", "source", "must be job or workflow"},
		{"event type", "event_type=" + strings.Repeat("x", 300), "event_type", "is too long"},
		{"host", "host=" + strings.Repeat("h", 254), "host", "longer than 253"},
		{"since", "since=soon", "since", "must be a time"},
		{"until", "until=2026-12-06T25:00", "until", "must be a time"},
		{"until before since", "since=2026-12-06T10:00&until=2026-12-06T09:00", "until", "must not be before since"},
		{"repeated", "host=a&host=b", "host", "given more than once"},
		{"unknown parameter", "limit=5", "", "unknown parameter “limit”"},
	})
}

func TestDeliveriesSearchAndPaging(t *testing.T) {
	e := newEnv(t)
	fx := e.fixture()
	b := e.browser()
	b.signIn(operatorToken)
	p := b.get("/deliveries?state=undelivered").want(t, http.StatusOK, "search")
	for id, want := range map[string]bool{fx.aUndelivered: true, fx.bUndelivered: true, fx.aDelivered: false, fx.bDelivered: false} {
		if got := strings.Contains(p.body, id); got != want {
			t.Errorf("state=undelivered lists %s: %v, want %v", id, got, want)
		}
	}
	if !strings.Contains(p.body, `href="/events/`+fx.aUndelivered+`"`) {
		t.Error("a row does not link to its event")
	}
	if !strings.Contains(p.body, `hx-get="/deliveries"`) || !strings.Contains(p.body, `hx-push-url="true"`) {
		t.Error("the filter form is not enhanced by htmx")
	}

	seen := map[string]bool{}
	next := "/deliveries?org=org_a&limit=1"
	for range 5 {
		p := b.get(next).want(t, http.StatusOK, next)
		ids := regexp.MustCompile(`href="/events/([0-9a-f-]{36})"`).FindAllStringSubmatch(p.body, -1)
		if len(ids) == 0 {
			break // a full last page may still have a next link
		}
		if len(ids) != 1 {
			t.Fatalf("%s: %d rows, want 1", next, len(ids))
		}
		seen[ids[0][1]] = true
		m := regexp.MustCompile(`<a href="([^"]+)"[^>]*>Next page</a>`).FindStringSubmatch(p.body)
		if m == nil {
			break
		}
		next = html.UnescapeString(m[1])
	}
	if len(seen) != 3 || !seen[fx.aDelivered] || !seen[fx.aWorkflow] || !seen[fx.aUndelivered] {
		t.Fatalf("paging org_a one by one saw %v, want its 3 events", seen)
	}
}

// TestUndeliveredPaging: past a page (200 events) the list offers the next page,
// which continues just after the last row, with the same filters.
func TestUndeliveredPaging(t *testing.T) {
	e := newEnv(t)
	const n = 200 + 50 // a page holds 200
	for range n {
		e.deadLetter("org_a", newEventID(t), "a.example.com", "find_email", "")
	}
	e.deadLetter("org_b", newEventID(t), "a.example.com", "find_email", "")
	b := e.browser()
	b.signIn(operatorToken)
	rows := regexp.MustCompile(`href="/undelivered/([0-9a-f-]{36})"`)
	next := regexp.MustCompile(`<a href="(/undelivered\?[^"]+)"[^>]*>Next`)
	seen := map[string]bool{}
	path, pages := "/undelivered?org=org_a", 0
	for path != "" {
		p := b.get(strings.ReplaceAll(path, "&amp;", "&")).want(t, http.StatusOK, path)
		pages++
		for _, m := range rows.FindAllStringSubmatch(p.body, -1) {
			if seen[m[1]] {
				t.Fatalf("page %d lists %s again", pages, m[1])
			}
			seen[m[1]] = true
		}
		path = ""
		if m := next.FindStringSubmatch(p.body); m != nil {
			path = m[1]
			if !strings.Contains(path, "org=org_a") {
				t.Fatalf("the next page %s drops the filter", path)
			}
		}
		if pages > 3 {
			t.Fatal("more pages than rows")
		}
	}
	if pages != 2 || len(seen) != n {
		t.Fatalf("%d pages, %d events; want 2 pages and all %d of org_a", pages, len(seen), n)
	}
}
