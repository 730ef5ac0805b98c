package undeliveredapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/sixtyfour-oss/webhooks/internal/undeliveredapi"
)

// A token of org_a acting on org_b's data, on every endpoint and verb, by
// org_id, by event id and in the body, is refused (404, or 403 where only
// the permission is missing), or matches nothing; its answers hold no id
// of org_b, and nothing of org_b's changes.
func TestCrossOrganizationRequestsAreRefused(t *testing.T) {
	e := newEnv(t, nil)
	fx := e.fixture()
	all := ids(fx.a1, fx.a2, fx.b1, fx.b2)
	b1, b2 := fx.b1.EventID, fx.b2.EventID
	p := undeliveredapi.Path
	const (
		get, head, post = http.MethodGet, http.MethodHead, http.MethodPost
	)
	cases := []struct {
		name               string
		token              string
		method, path, body string
		status             int
		matched            int // of a 200 replay: must be 0
	}{
		{"list by org_id", e.orgA, get, p + "?org_id=org_b", "", 404, 0},
		{"list by org_id and source", e.orgA, get, p + "?org_id=org_b&source=job", "", 404, 0},
		{"list by org_id, no replay permission", e.orgARead, get, p + "?org_id=org_b", "", 404, 0},
		{"list without org_id holds only its own", e.orgA, get, p, "", 200, 0},
		{"list filtered to the other's event type holds nothing", e.orgA, get, p + "?event_type=find_phone", "", 200, 0},
		{"show by event id", e.orgA, get, p + "/" + b1, "", 404, 0},
		{"show by event id and org_id", e.orgA, get, p + "/" + b1 + "?org_id=org_b", "", 404, 0},
		{"show by event id with its own org_id", e.orgA, get, p + "/" + b1 + "?org_id=org_a", "", 404, 0},
		{"show, head", e.orgA, head, p + "/" + b1, "", 404, 0},
		{"show, no replay permission", e.orgARead, get, p + "/" + b2, "", 404, 0},
		{"replay by org_id", e.orgA, post, p + "/replay", `{"org_id":"org_b"}`, 404, 0},
		{"replay by org_id, dry run", e.orgA, post, p + "/replay", `{"org_id":"org_b","dry_run":true}`, 404, 0},
		{"replay by org_id, all", e.orgA, post, p + "/replay", `{"org_id":"org_b","all":true}`, 404, 0},
		{"replay by org_id and event ids", e.orgA, post, p + "/replay", `{"org_id":"org_b","event_ids":["` + b1 + `"]}`, 404, 0},
		{"replay by org_id, no replay permission", e.orgARead, post, p + "/replay", `{"org_id":"org_b"}`, 404, 0},
		{"replay by event ids matches nothing", e.orgA, post, p + "/replay", `{"event_ids":["` + b1 + `","` + b2 + `"]}`, 200, 0},
		{"replay by event ids, dry run", e.orgA, post, p + "/replay", `{"event_ids":["` + b1 + `"],"dry_run":true}`, 200, 0},
		{"replay by event ids, no replay permission", e.orgARead, post, p + "/replay", `{"event_ids":["` + b1 + `"]}`, 403, 0},
		{"replay one by event id", e.orgA, post, p + "/" + b1 + "/replay", "", 404, 0},
		{"replay one by event id, dry run", e.orgA, post, p + "/" + b2 + "/replay", `{"dry_run":true}`, 404, 0},
		{"replay one, no replay permission", e.orgARead, post, p + "/" + b1 + "/replay", "", 404, 0},
		{"purge by org_id", e.orgA, post, p + "/purge", `{"org_id":"org_b"}`, 404, 0},
		{"purge by org_id, all", e.orgA, post, p + "/purge", `{"org_id":"org_b","all":true}`, 404, 0},
		{"purge by org_id, dry run", e.orgARead, post, p + "/purge", `{"org_id":"org_b","dry_run":true}`, 404, 0},
		{"purge by event ids", e.orgA, post, p + "/purge", `{"event_ids":["` + b1 + `"]}`, 403, 0},
		{"purge of its own org", e.orgA, post, p + "/purge", `{"org_id":"org_a"}`, 403, 0},
		{"purge without org", e.orgA, post, p + "/purge", `{}`, 403, 0},
		{"purge of all", e.orgA, post, p + "/purge", `{"all":true}`, 403, 0},
	}
	notFound := e.do(get, p+"/ev-never-seen", e.orgA, "")
	if notFound.status != http.StatusNotFound {
		t.Fatalf("show of an absent event = %d %s, want 404", notFound.status, notFound.body)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do(tc.method, tc.path, tc.token, tc.body)
			if res.status != tc.status {
				t.Fatalf("status = %d %s, want %d", res.status, res.body, tc.status)
			}
			for _, secret := range []string{b1, b2, "org_b", "find_phone"} {
				if strings.Contains(string(res.body), secret) {
					t.Errorf("the answer holds %q: %s", secret, res.body)
				}
			}
			switch {
			case tc.status == http.StatusNotFound && tc.method != head && string(res.body) != string(notFound.body):
				t.Errorf("body = %s, want the body of an absent event %s", res.body, notFound.body)
			case tc.status == http.StatusForbidden:
				var got errorAnswer
				if res.decode(t, &got); got.Error != "forbidden" {
					t.Errorf("error = %q, want forbidden", got.Error)
				}
			case tc.status == http.StatusOK && tc.method == get:
				var got listAnswer
				if res.decode(t, &got); !slices.Equal(itemIDs(got.Undelivered), ids(fx.a1, fx.a2)) &&
					!slices.Equal(itemIDs(got.Undelivered), []string{}) {
					t.Errorf("list = %v, want org_a's events or none", itemIDs(got.Undelivered))
				}
			case tc.status == http.StatusOK:
				var got undeliveredapi.Summary
				if res.decode(t, &got); got.Matched != 0 || got.Replayed != 0 || len(got.Sample) != 0 {
					t.Errorf("summary = %+v, want nothing matched", got)
				}
			}
			if got := e.undeliveredIDs(); !slices.Equal(got, all) {
				t.Errorf("undelivered holds %v, want all four unchanged", got)
			}
			if got := e.deliveredIDs(); len(got) != 0 {
				t.Errorf("WEBHOOKS holds %v, want nothing", got)
			}
		})
	}
}

// A replay by org_a's token with the replay permission replays org_a's
// events only, whatever the body says; org_b's stay on the stream.
func TestOrganizationReplaysOnlyItsOwnEvents(t *testing.T) {
	for _, tc := range []struct {
		name, path, body string
		want             func(fixture) []string
	}{
		{"empty body means all of its organization", "/replay", "", func(fx fixture) []string { return ids(fx.a1, fx.a2) }},
		{"empty object", "/replay", "{}", func(fx fixture) []string { return ids(fx.a1, fx.a2) }},
		{"all", "/replay", `{"all":true}`, func(fx fixture) []string { return ids(fx.a1, fx.a2) }},
		{"its own org_id", "/replay", `{"org_id":"org_a"}`, func(fx fixture) []string { return ids(fx.a1, fx.a2) }},
		{"source shared with org_b", "/replay", `{"source":"job"}`, func(fx fixture) []string { return ids(fx.a1) }},
		{"host shared with org_b", "/replay", `{"host":"b.example.com"}`, func(fx fixture) []string { return ids(fx.a2) }},
		{"event ids of both", "/replay", "", nil}, // body set below from the fixture
		{"one of its own", "", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			fx := e.fixture()
			path, body, want := undeliveredapi.Path+tc.path, tc.body, tc.want
			switch tc.name {
			case "event ids of both":
				body = `{"event_ids":["` + fx.b1.EventID + `","` + fx.a1.EventID + `","` + fx.b2.EventID + `"]}`
				want = func(fx fixture) []string { return ids(fx.a1) }
			case "one of its own":
				path = undeliveredapi.Path + "/" + fx.a2.EventID + "/replay"
				want = func(fx fixture) []string { return ids(fx.a2) }
			}
			res := e.do(http.MethodPost, path, e.orgA, body)
			if res.status != http.StatusOK {
				t.Fatalf("status = %d %s, want 200", res.status, res.body)
			}
			var sum undeliveredapi.Summary
			res.decode(t, &sum)
			w := want(fx)
			if sum.Matched != len(w) || sum.Replayed != len(w) {
				t.Errorf("summary = %+v, want %d matched and replayed", sum, len(w))
			}
			if got := e.deliveredIDs(); !slices.Equal(got, w) {
				t.Errorf("WEBHOOKS holds %v, want %v", got, w)
			}
			left := e.undeliveredIDs()
			if !slices.Contains(left, fx.b1.EventID) || !slices.Contains(left, fx.b2.EventID) || len(left) != 4-len(w) {
				t.Errorf("undelivered holds %v, want org_b's two and org_a's others", left)
			}
			if strings.Contains(string(res.body), "org_b") {
				t.Errorf("the answer names org_b: %s", res.body)
			}
		})
	}
}

// An org_a token without the replay permission reads its events but
// gets 403 on every replay of them, dry runs included.
func TestOrganizationWithoutReplayPermission(t *testing.T) {
	e := newEnv(t, nil)
	fx := e.fixture()
	all := ids(fx.a1, fx.a2, fx.b1, fx.b2)
	res := e.do(http.MethodGet, undeliveredapi.Path, e.orgARead, "")
	var list listAnswer
	if res.decode(t, &list); res.status != http.StatusOK || !slices.Equal(itemIDs(list.Undelivered), ids(fx.a1, fx.a2)) {
		t.Errorf("list = %d %v, want 200 and org_a's events", res.status, itemIDs(list.Undelivered))
	}
	for _, tc := range []struct{ path, body string }{
		{"/replay", ""},
		{"/replay", `{"org_id":"org_a"}`},
		{"/replay", `{"all":true}`},
		{"/replay", `{"dry_run":true}`},
		{"/replay", `{"event_ids":["` + fx.a1.EventID + `"]}`},
		{"/" + fx.a1.EventID + "/replay", ""},
		{"/" + fx.a1.EventID + "/replay", `{"dry_run":true}`},
	} {
		res := e.do(http.MethodPost, undeliveredapi.Path+tc.path, e.orgARead, tc.body)
		var got errorAnswer
		if res.decode(t, &got); res.status != http.StatusForbidden || got.Error != "forbidden" {
			t.Errorf("POST %s %s = %d %s, want 403 forbidden", tc.path, tc.body, res.status, res.body)
		}
	}
	if got := e.undeliveredIDs(); !slices.Equal(got, all) || len(e.deliveredIDs()) != 0 {
		t.Errorf("undelivered holds %v and WEBHOOKS %v; want nothing changed", got, e.deliveredIDs())
	}
}
