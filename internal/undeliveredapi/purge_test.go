package undeliveredapi_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/sixtyfour-oss/webhooks/internal/undeliveredapi"
)

// purge posts body as token and decodes the result of a 200.
func (e *env) purge(token, body string) undeliveredapi.PurgeResult {
	e.t.Helper()
	res := e.do(http.MethodPost, undeliveredapi.Path+"/purge", token, body)
	if res.status != http.StatusOK {
		e.t.Fatalf("purge %s = %d %s, want 200", body, res.status, res.body)
	}
	var out undeliveredapi.PurgeResult
	res.decode(e.t, &out)
	return out
}

func TestPurgeForAnOperator(t *testing.T) {
	e := newEnv(t, nil)
	fx := e.fixture()
	all := ids(fx.a1, fx.a2, fx.b1, fx.b2)

	for _, body := range []string{"", "{}", `{"dry_run":true}`} {
		res := e.do(http.MethodPost, undeliveredapi.Path+"/purge", e.op, body)
		var got errorAnswer
		res.decode(t, &got)
		if res.status != http.StatusBadRequest || !slices.Equal(got.fieldNames(), []string{"all"}) {
			t.Errorf("body %q: %d %s, want 400 naming all", body, res.status, res.body)
		}
	}
	out := e.purge(e.op, `{"org_id":"org_a","dry_run":true}`)
	if !out.DryRun || out.Matched != 2 || out.Purged != 0 || !slices.Equal(itemIDs(out.Sample), ids(fx.a1, fx.a2)) {
		t.Errorf("dry run = %+v, want 2 matched and sampled, none purged", out)
	}
	if got := e.undeliveredIDs(); !slices.Equal(got, all) {
		t.Fatalf("the dry run changed the stream: %v", got)
	}
	out = e.purge(e.op, `{"org_id":"org_a"}`)
	if out.DryRun || out.Matched != 2 || out.Purged != 2 || len(out.Sample) != 0 {
		t.Errorf("purge = %+v, want 2 matched and purged", out)
	}
	if got, want := e.undeliveredIDs(), ids(fx.b1, fx.b2); !slices.Equal(got, want) {
		t.Errorf("undelivered holds %v, want %v", got, want)
	}
	out = e.purge(e.op, `{"event_ids":["`+fx.b2.EventID+`","ev-never-seen"]}`)
	if out.Matched != 1 || out.Purged != 1 {
		t.Errorf("purge by event ids = %+v, want b2 purged", out)
	}
	out = e.purge(e.op, `{"all":true}`)
	if out.Matched != 1 || out.Purged != 1 || len(e.undeliveredIDs()) != 0 {
		t.Errorf("purge of all = %+v, want the last one purged", out)
	}
	if n := len(e.deliveredIDs()); n != 0 {
		t.Errorf("a purge published %d messages", n)
	}
	if out := e.purge(e.op, `{"all":true}`); out.Matched != 0 || out.Purged != 0 {
		t.Errorf("purge of an empty stream = %+v, want zeros", out)
	}
}
