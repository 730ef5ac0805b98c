package console_test

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/undelivered"
)

// hiddenCount returns the count the review page asks to confirm.
func hiddenCount(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`name="count" value="(\d+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the review page has no count to confirm:\n%s", body)
	}
	return m[1]
}

// waitJob polls the job page until it is no longer running and returns it.
func waitJob(t *testing.T, b *browser, path string) page {
	t.Helper()
	var p page
	jstest.Eventually(t, 20*time.Second, func() bool {
		p = b.get(path)
		return p.status == http.StatusOK && !strings.Contains(p.body, `<p class="state state-running">`)
	}, "job %s to finish", path)
	return p
}

// delivered returns the messages on WEBHOOKS (nobody consumes them here).
func (e *env) delivered() []*jetstream.RawStreamMsg {
	e.t.Helper()
	info, err := e.res.Deliver.Info(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := e.res.Deliver.GetMsg(e.ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestReplayDryRunConfirmJob(t *testing.T) {
	e := newEnv(t)
	fx := e.fixture()
	b := e.browser()
	b.signIn(operatorToken)

	list := b.get("/undelivered?org=org_a").want(t, http.StatusOK, "list")
	if !strings.Contains(list.body, fx.aUndelivered) || strings.Contains(list.body, fx.bUndelivered) {
		t.Fatalf("org_a's list:\n%s", list.body)
	}
	if !strings.Contains(list.body, "attempts exhausted after 2 attempts: HTTP 500") {
		t.Error("the list does not give the failure reason")
	}
	review := b.post("/undelivered/replay", url.Values{"org": {"org_a"}}).want(t, http.StatusOK, "dry run")
	if !strings.Contains(review.body, "1 event will be replayed") || !strings.Contains(review.body, fx.aUndelivered) {
		t.Fatalf("the dry run does not count and sample the selection:\n%s", review.body)
	}
	if got := len(e.delivered()); got != 0 {
		t.Fatalf("the dry run published %d messages", got)
	}
	job := b.post("/undelivered/replay/confirm", url.Values{"org": {"org_a"}, "count": {hiddenCount(t, review.body)}}).
		want(t, http.StatusSeeOther, "confirm")
	path := job.header.Get("Location")
	if !regexp.MustCompile(`^/jobs/[0-9a-f]{32}$`).MatchString(path) {
		t.Fatalf("confirm went to %q, want a job page", path)
	}
	done := waitJob(t, b, path)
	if !strings.Contains(done.body, "state-done") || !strings.Contains(done.body, "Replayed 1, skipped 0") {
		t.Fatalf("the job page does not report the replay:\n%s", done.body)
	}
	if strings.Contains(done.body, `http-equiv="refresh"`) || strings.Contains(done.body, `hx-trigger="every 1s"`) {
		t.Error("a finished job's page still refreshes")
	}
	if got, want := e.undeliveredIDs(), []string{fx.bUndelivered}; !slices.Equal(got, want) {
		t.Fatalf("undelivered after the replay: %v, want %v", got, want)
	}
	msgs := e.delivered()
	if len(msgs) != 1 || msgs[0].Header.Get(undelivered.HeaderReplay) != "1" || !strings.Contains(string(msgs[0].Data), fx.aUndelivered) {
		t.Fatalf("WEBHOOKS holds %d messages, want the replayed request", len(msgs))
	}

	// The job belongs to the operator: another principal gets 404.
	other := e.browser()
	other.signIn(e.orgToken("org_a", true))
	other.get(path).want(t, http.StatusNotFound, "another principal's job")
	other.post(path+"/cancel", nil).want(t, http.StatusNotFound, "another principal's job cancel")
}

func TestReplayOfOneEventFromItsPage(t *testing.T) {
	e := newEnv(t)
	fx := e.fixture()
	b := e.browser()
	b.signIn(e.orgToken("org_a", true))
	ev := b.get("/events/"+fx.aUndelivered).want(t, http.StatusOK, "event")
	if !strings.Contains(ev.body, `action="/undelivered/replay"`) || !strings.Contains(ev.body, "Replay this event") {
		t.Fatalf("the event page does not offer the replay:\n%s", ev.body)
	}
	review := b.post("/undelivered/replay", url.Values{"event_id": {fx.aUndelivered}}).want(t, http.StatusOK, "dry run")
	job := b.post("/undelivered/replay/confirm", url.Values{"event_id": {fx.aUndelivered}, "count": {hiddenCount(t, review.body)}}).
		want(t, http.StatusSeeOther, "confirm")
	waitJob(t, b, job.header.Get("Location"))
	if got, want := e.undeliveredIDs(), []string{fx.bUndelivered}; !slices.Equal(got, want) {
		t.Fatalf("undelivered after the replay: %v, want %v", got, want)
	}
	if strings.Contains(b.get("/events/"+fx.aUndelivered).body, "Replay this event") {
		t.Error("the event page still offers a replay after it")
	}
}

func TestReplayRefusesAGrownSelection(t *testing.T) {
	e := newEnv(t)
	fx := e.fixture()
	b := e.browser()
	b.signIn(operatorToken)
	review := b.post("/undelivered/replay", url.Values{"org": {"org_a"}}).want(t, http.StatusOK, "dry run")
	late := newEventID(t)
	e.deadLetter("org_a", late, "hooks.example.com", "enrich_lead", "late")
	job := b.post("/undelivered/replay/confirm", url.Values{"org": {"org_a"}, "count": {hiddenCount(t, review.body)}}).
		want(t, http.StatusSeeOther, "confirm")
	done := waitJob(t, b, job.header.Get("Location"))
	if !strings.Contains(done.body, "Nothing was replayed: 2 events match now, 1 were reviewed") {
		t.Fatalf("the job page:\n%s", done.body)
	}
	want := []string{fx.aUndelivered, fx.bUndelivered, late}
	slices.Sort(want)
	if got := e.undeliveredIDs(); !slices.Equal(got, want) {
		t.Fatalf("undelivered: %v, want all three untouched", got)
	}
}

func TestPurgeReviewConfirmJob(t *testing.T) {
	e := newEnv(t)
	fx := e.fixture()
	b := e.browser()
	b.signIn(operatorToken)
	review := b.post("/undelivered/purge", url.Values{"org": {"org_b"}}).want(t, http.StatusOK, "purge review")
	if !strings.Contains(review.body, "1 event will be purged") || !strings.Contains(review.body, fx.bUndelivered) {
		t.Fatalf("the purge review:\n%s", review.body)
	}
	if got := e.undeliveredIDs(); len(got) != 2 {
		t.Fatalf("the review deleted something: %v", got)
	}
	job := b.post("/undelivered/purge/confirm", url.Values{"org": {"org_b"}, "count": {hiddenCount(t, review.body)}}).
		want(t, http.StatusSeeOther, "confirm")
	done := waitJob(t, b, job.header.Get("Location"))
	if !strings.Contains(done.body, "Purged 1 of 1 selected") {
		t.Fatalf("the job page:\n%s", done.body)
	}
	if got, want := e.undeliveredIDs(), []string{fx.aUndelivered}; !slices.Equal(got, want) {
		t.Fatalf("undelivered after the purge: %v, want %v", got, want)
	}
	b.post("/undelivered/purge/confirm", url.Values{"org": {"org_a"}}).want(t, http.StatusBadRequest, "a purge never reviewed")
}
