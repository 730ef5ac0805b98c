package console_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/sixtyfour-oss/webhooks/internal/undelivered"
)

// undeliveredIDs returns the event ids on the undelivered stream.
func (e *env) undeliveredIDs() []string {
	e.t.Helper()
	entries, err := undelivered.List(e.ctx, e.js, e.sc, undelivered.Filter{}, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	ids := make([]string, len(entries))
	for i, en := range entries {
		ids[i] = en.EventID()
	}
	slices.Sort(ids)
	return ids
}

// noOrgB fails when a page shows anything of org_b.
func noOrgB(t *testing.T, what string, p page, fx fixture) {
	t.Helper()
	for _, mark := range []string{"org_b", orgBHost, orgBEventType, fx.bDelivered, fx.bUndelivered} {
		if strings.Contains(p.body, mark) {
			t.Errorf("%s shows %q of org_b", what, mark)
		}
	}
}

func TestOrgSessionSeesOnlyItsOrg(t *testing.T) {
	e := newEnv(t)
	fx := e.fixture()
	b := e.browser()
	b.signIn(e.orgToken("org_a", true))

	missing := b.get("/events/"+newEventID(t)).want(t, http.StatusNotFound, "a missing event")
	for _, path := range []string{"/events/" + fx.bDelivered, "/events/" + fx.bUndelivered + "?org=org_b",
		"/events/" + fx.bDelivered + "?org=org_a", "/undelivered/" + fx.bUndelivered} {
		p := b.get(path).want(t, http.StatusNotFound, path)
		noOrgB(t, path, p, fx)
		if p.body != missing.body {
			t.Errorf("%s: the 404 differs from a missing event's", path)
		}
	}
	for _, tc := range []struct {
		path string
		// echoes: the query itself names org_b's host or type, which the
		// form shows again; only its events must not appear.
		echoes bool
	}{
		{"/", false}, {"/deliveries", false}, {"/deliveries?state=delivered", false}, {"/undelivered", false},
		{"/deliveries?host=" + orgBHost, true}, {"/deliveries?event_type=" + orgBEventType, true},
		{"/undelivered?host=" + orgBHost, true},
	} {
		p := b.get(tc.path).want(t, http.StatusOK, tc.path)
		if !tc.echoes {
			noOrgB(t, tc.path, p, fx)
		} else if strings.Contains(p.body, fx.bDelivered) || strings.Contains(p.body, fx.bUndelivered) {
			t.Errorf("%s lists an org_b event", tc.path)
		}
	}
	log := b.get("/deliveries").body
	for _, id := range []string{fx.aDelivered, fx.aUndelivered, fx.aWorkflow} {
		if !strings.Contains(log, id) {
			t.Errorf("the log page lacks org_a's %s", id)
		}
	}
	if strings.Contains(log, `name="org"`) {
		t.Error("an organization session can type another organization")
	}
	for _, path := range []string{"/deliveries?org=org_b", "/undelivered?org=org_b", "/secrets?org=org_b"} {
		p := b.get(path).want(t, http.StatusNotFound, path)
		noOrgB(t, path, p, fx)
	}
	overview := b.get("/").body
	if strings.Contains(overview, "Deliverers&#39; backlog") || strings.Contains(overview, "Ack pending") {
		t.Error("an organization session sees the consumer lag")
	}
	if !strings.Contains(overview, `<strong class="undelivered-count">1</strong>`) {
		t.Errorf("org_a's undelivered count is not 1:\n%s", overview)
	}
}

func TestOrgSessionCannotChangeAnotherOrg(t *testing.T) {
	e := newEnv(t)
	fx := e.fixture()
	if _, _, err := e.secrets.Create(e.ctx, "org_b"); err != nil {
		t.Fatal(err)
	}
	before, err := e.secrets.Show(e.ctx, "org_b")
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn(e.orgToken("org_a", true))
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/undelivered/replay", url.Values{"event_id": {fx.bUndelivered}, "org": {"org_b"}}},
		{"/undelivered/replay/confirm", url.Values{"event_id": {fx.bUndelivered}, "org": {"org_b"}, "count": {"1"}}},
		{"/undelivered/replay/confirm", url.Values{"org": {"org_b"}, "count": {"1"}}},
		{"/undelivered/purge", url.Values{"org": {"org_b"}}},
		{"/undelivered/purge/confirm", url.Values{"org": {"org_b"}, "count": {"1"}}},
		{"/secrets/roll", url.Values{"org": {"org_b"}, "overlap_hours": {"0"}}},
		{"/secrets/create", url.Values{"org": {"org_b"}}},
		{"/secrets/delete", url.Values{"org": {"org_b"}}},
		{"/secrets/delete/confirm", url.Values{"org": {"org_b"}}},
	} {
		p := b.post(tc.path, tc.form).want(t, http.StatusNotFound, tc.path)
		noOrgB(t, tc.path, p, fx)
	}
	// Its own event id with another organization's: nothing matches.
	p := b.post("/undelivered/replay", url.Values{"event_id": {fx.bUndelivered}}).want(t, http.StatusOK, "replay of org_b's id")
	if !strings.Contains(p.body, "Nothing matches") {
		t.Errorf("an org_a session's review of org_b's event matched something:\n%s", p.body)
	}
	// Within its own organization: replay is allowed, purge and secrets are not.
	b.post("/undelivered/purge", url.Values{}).want(t, http.StatusForbidden, "purge of its own org")
	b.post("/secrets/roll", url.Values{"org": {"org_a"}, "overlap_hours": {"1"}}).want(t, http.StatusForbidden, "roll of its own org")
	b.post("/undelivered/replay", url.Values{}).want(t, http.StatusOK, "replay review of its own org")

	readOnly := e.browser()
	readOnly.signIn(e.orgToken("org_a", false))
	readOnly.post("/undelivered/replay", url.Values{"event_id": {fx.aUndelivered}}).want(t, http.StatusForbidden, "replay without the replay permission")
	if strings.Contains(readOnly.get("/undelivered").body, "Replay all") {
		t.Error("a read-only session is offered replay")
	}

	if got := e.undeliveredIDs(); len(got) != 2 {
		t.Fatalf("undelivered: %v, want both events untouched", got)
	}
	after, err := e.secrets.Show(e.ctx, "org_b")
	if err != nil || len(after) != len(before) || after[0].ID != before[0].ID {
		t.Fatalf("org_b's secrets changed: %v → %v (%v)", before, after, err)
	}
}
