package undeliveredapi_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/sixtyfour-oss/webhooks/internal/undeliveredapi"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// replay posts body to path as token and decodes the summary of a 200.
func (e *env) replay(path, token, body string) undeliveredapi.Summary {
	e.t.Helper()
	res := e.do(http.MethodPost, path, token, body)
	if res.status != http.StatusOK {
		e.t.Fatalf("POST %s %s = %d %s, want 200", path, body, res.status, res.body)
	}
	var sum undeliveredapi.Summary
	res.decode(e.t, &sum)
	return sum
}

func TestReplayForAnOperator(t *testing.T) {
	e := newEnv(t, nil)
	fx := e.fixture()
	all := ids(fx.a1, fx.a2, fx.b1, fx.b2)
	path := undeliveredapi.Path + "/replay"

	sum := e.replay(path, e.op, `{"org_id":"org_b","dry_run":true}`)
	if !sum.DryRun || sum.Matched != 2 || sum.Replayed != 0 || !slices.Equal(itemIDs(sum.Sample), ids(fx.b1, fx.b2)) {
		t.Errorf("dry run = %+v, want 2 matched and sampled, none replayed", sum)
	}
	if got := e.undeliveredIDs(); !slices.Equal(got, all) || len(e.deliveredIDs()) != 0 {
		t.Fatalf("the dry run changed the streams: undelivered %v", got)
	}

	sum = e.replay(path, e.op, `{"org_id":"org_b"}`)
	if sum.DryRun || sum.Matched != 2 || sum.Replayed != 2 || sum.Failed != 0 || len(sum.Sample) != 0 || sum.Errors == nil {
		t.Errorf("replay = %+v, want 2 matched and replayed, errors []", sum)
	}
	if got, want := e.deliveredIDs(), ids(fx.b1, fx.b2); !slices.Equal(got, want) {
		t.Errorf("WEBHOOKS holds %v, want %v", got, want)
	}
	if got, want := e.undeliveredIDs(), ids(fx.a1, fx.a2); !slices.Equal(got, want) {
		t.Errorf("undelivered holds %v, want %v", got, want)
	}

	// Every event of every organization needs "all": true, dry runs too.
	for _, body := range []string{"", "{}", `{"dry_run":true}`, `{"all":false}`, `{"org_id":""}`} {
		res := e.do(http.MethodPost, path, e.op, body)
		var got errorAnswer
		res.decode(t, &got)
		if res.status != http.StatusBadRequest || !slices.Equal(got.fieldNames(), []string{"all"}) {
			t.Errorf("body %q: %d %s, want 400 naming all", body, res.status, res.body)
		}
	}
	sum = e.replay(path, e.op, `{"all":true,"rate_per_second":1000}`)
	if sum.Matched != 2 || sum.Replayed != 2 {
		t.Errorf("replay of all = %+v, want the 2 left replayed", sum)
	}
	if got := e.deliveredIDs(); !slices.Equal(got, all) || len(e.undeliveredIDs()) != 0 {
		t.Errorf("WEBHOOKS holds %v, want every event once and nothing left undelivered", got)
	}
}

func TestReplayOneForAnOperator(t *testing.T) {
	e := newEnv(t, nil)
	fx := e.fixture()
	path := undeliveredapi.Path + "/" + fx.a2.EventID + "/replay"
	sum := e.replay(path, e.op, `{"dry_run":true}`)
	if sum.Matched != 1 || sum.Replayed != 0 || !slices.Equal(itemIDs(sum.Sample), ids(fx.a2)) || len(e.deliveredIDs()) != 0 {
		t.Errorf("dry run = %+v, want a2 matched and sampled, nothing published", sum)
	}
	sum = e.replay(path, e.op, "")
	if sum.Matched != 1 || sum.Replayed != 1 {
		t.Errorf("replay = %+v, want a2 replayed", sum)
	}
	if got := e.deliveredIDs(); !slices.Equal(got, ids(fx.a2)) {
		t.Errorf("WEBHOOKS holds %v, want a2", got)
	}
	res := e.do(http.MethodPost, path, e.op, "")
	if res.status != http.StatusNotFound {
		t.Errorf("second replay = %d %s, want 404", res.status, res.body)
	}
}

// The delivery log given as Options.History reaches Replay: an event
// whose replay a deliverer already handled is not published again.
func TestReplayAsksTheDeliveryLog(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	e := newEnv(t, func(_ context.Context, orgID, eventID string) (*envelope.Outcome, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, orgID+"/"+eventID)
		return &envelope.Outcome{EventID: eventID, OrgID: orgID, State: envelope.StateDelivered, Final: true, Success: true, Replay: 1}, nil
	})
	fx := e.fixture()
	sum := e.replay(undeliveredapi.Path+"/"+fx.a1.EventID+"/replay", e.orgA, "")
	if sum.Matched != 1 || sum.Skipped != 1 || sum.Replayed != 0 {
		t.Errorf("replay = %+v, want a1 skipped (already replayed per the log)", sum)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"org_a/" + fx.a1.EventID}; !slices.Equal(asked, want) {
		t.Errorf("the log was asked about %v, want %v", asked, want)
	}
	if n := len(e.deliveredIDs()); n != 0 {
		t.Errorf("WEBHOOKS holds %d messages, want none", n)
	}
}

// An event that cannot be replayed is listed in errors with its id.
func TestReplayListsFailedEvents(t *testing.T) {
	e := newEnv(t, nil)
	fx := e.fixture()
	bad := &envelope.Outcome{V: 1, EventID: "ev-not-json", OrgID: "org_a", Source: envelope.SourceJob,
		State: envelope.StateUndelivered, Final: true}
	writeRaw(e, []byte("not json"), bad)
	sum := e.replay(undeliveredapi.Path+"/replay", e.orgA, "")
	if sum.Matched != 3 || sum.Replayed != 2 || sum.Failed != 1 || len(sum.Errors) != 1 ||
		sum.Errors[0].EventID != "ev-not-json" || sum.Errors[0].Error == "" {
		t.Errorf("replay = %+v, want a1 and a2 replayed and ev-not-json failed with its error", sum)
	}
	if got := e.deliveredIDs(); !slices.Equal(got, ids(fx.a1, fx.a2)) {
		t.Errorf("WEBHOOKS holds %v, want a1 and a2", got)
	}
}

func TestReplayAndPurgeAreLogged(t *testing.T) {
	e := newEnv(t, nil)
	e.fixture()
	e.replay(undeliveredapi.Path+"/replay", e.orgA, `{"source":"job"}`)
	e.do(http.MethodPost, undeliveredapi.Path+"/purge", e.op, `{"org_id":"org_b"}`)
	for _, want := range []string{
		`"principal":"acme replayer"`, `"org_id":"org_a"`, `"matched":1`, `"replayed":1`, `"message":"undelivered replay"`,
		`"principal":"PUBLISHER_ADMIN_TOKENS #1"`, `"org_id":"org_b"`, `"purged":2`, `"message":"undelivered purge"`,
	} {
		if !e.log.Contains(want) {
			t.Errorf("the log lacks %s:\n%s", want, e.log)
		}
	}
	for _, secret := range []string{e.orgA, e.op, "secret-in-url"} {
		if e.log.Contains(secret) {
			t.Errorf("the log holds a secret %q:\n%s", secret, e.log)
		}
	}
}
