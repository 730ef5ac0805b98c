package undelivered

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

func TestReplayPublishesTheUnchangedRequest(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ev       event
		wantN    string
		wantMsgN int
	}{
		{"first replay of a job", event{org: "org_a", host: "a.example.com"}, "1", 1},
		{"third replay of a workflow run", event{org: "org_a", workflow: true, host: "a.example.com", replay: 2}, "3", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			req, body := e.deadLetter(tc.ev)
			sum, err := Replay(e.ctx, e.js, e.sc, Filter{}, ReplayOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Matched != 1 || sum.Replayed != 1 || sum.Skipped != 0 || sum.Failed != 0 {
				t.Errorf("summary = %+v, want 1 matched and replayed", sum)
			}
			msgs := e.delivered()
			if len(msgs) != 1 {
				t.Fatalf("WEBHOOKS holds %d messages, want 1", len(msgs))
			}
			m := msgs[0]
			if m.Subject != e.sc.DeliverSubject(req.OrgID, req.Source) {
				t.Errorf("subject = %s, want %s", m.Subject, e.sc.DeliverSubject(req.OrgID, req.Source))
			}
			if !bytes.Equal(m.Data, body) {
				t.Errorf("body = %s, want the unchanged request %s", m.Data, body)
			}
			if got, want := m.Header.Get(nats.MsgIdHdr), ReplayMsgID(req.EventID, tc.wantMsgN); got != want {
				t.Errorf("Nats-Msg-Id = %q, want %q", got, want)
			}
			if got := m.Header.Get(HeaderReplay); got != tc.wantN {
				t.Errorf("%s = %q, want %q", HeaderReplay, got, tc.wantN)
			}
			decoded, err := envelope.Decode(m.Data, envelope.URLPolicy{})
			if err != nil || decoded.EventID != req.EventID {
				t.Errorf("replayed event id = %v (%v), want %s", decoded, err, req.EventID)
			}
			if got := e.undeliveredIDs(); len(got) != 0 {
				t.Errorf("undelivered still holds %v, want nothing", got)
			}
		})
	}
}

func TestReplayByEachFilter(t *testing.T) {
	for _, tc := range newEnv(t).fixture().cases() {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			fx := e.fixture()
			c := caseNamed(fx.cases(), tc.name)
			sum, err := Replay(e.ctx, e.js, e.sc, c.f, ReplayOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Matched != len(c.want) || sum.Replayed != len(c.want) || sum.Failed != 0 {
				t.Errorf("summary = %+v, want %d matched and replayed", sum, len(c.want))
			}
			if got := e.deliveredIDs(); !slices.Equal(got, c.want) {
				t.Errorf("replayed %v, want %v", got, c.want)
			}
			if left := e.undeliveredIDs(); len(left) != 4-len(c.want) || hasAny(left, c.want) {
				t.Errorf("undelivered left %v, want the 4 events minus %v", left, c.want)
			}
		})
	}
}

func TestReplayDryRunChangesNothing(t *testing.T) {
	e := newEnv(t)
	var want []string
	for range SampleSize + 2 {
		req, _ := e.deadLetter(event{org: "org_a", host: "a.example.com"})
		want = append(want, req.EventID)
	}
	slices.Sort(want)
	progressCalled := false
	sum, err := Replay(e.ctx, e.js, e.sc, Filter{OrgID: "org_a"}, ReplayOptions{DryRun: true,
		Progress: func(int, int) { progressCalled = true }})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Matched != len(want) || sum.Replayed != 0 || len(sum.Sample) != SampleSize {
		t.Errorf("summary = matched %d, replayed %d, sample %d; want %d, 0, %d", sum.Matched, sum.Replayed, len(sum.Sample), len(want), SampleSize)
	}
	if len(sum.Sample) > 0 && sum.Sample[0].Request == nil {
		t.Error("the sample has no request bodies")
	}
	if got := e.undeliveredIDs(); !slices.Equal(got, want) {
		t.Errorf("undelivered = %v, want it unchanged", got)
	}
	if n := len(e.delivered()); n != 0 || progressCalled {
		t.Errorf("dry run published %d messages (progress called: %v), want none", n, progressCalled)
	}
}

func TestReplayConfirm(t *testing.T) {
	e := newEnv(t)
	fx := e.fixture()
	var gotCount, gotSample int
	_, err := Replay(e.ctx, e.js, e.sc, Filter{OrgID: "org_b"}, ReplayOptions{Confirm: func(n int, sample []Entry) bool {
		gotCount, gotSample = n, len(sample)
		return false
	}})
	if !errors.Is(err, ErrNotConfirmed) {
		t.Errorf("error = %v, want ErrNotConfirmed", err)
	}
	if gotCount != 2 || gotSample != 2 {
		t.Errorf("Confirm saw %d events and %d samples, want 2 and 2", gotCount, gotSample)
	}
	if len(e.delivered()) != 0 || len(e.undeliveredIDs()) != 4 {
		t.Error("a declined replay changed the streams")
	}
	sum, err := Replay(e.ctx, e.js, e.sc, Filter{OrgID: "org_b"}, ReplayOptions{Confirm: func(int, []Entry) bool { return true }})
	if err != nil || sum.Replayed != 2 {
		t.Errorf("confirmed replay = %+v, %v; want 2 replayed", sum, err)
	}
	if got := e.deliveredIDs(); !slices.Equal(got, ids(fx.b1, fx.b2)) {
		t.Errorf("replayed %v, want %v", got, ids(fx.b1, fx.b2))
	}
}

func TestReplayRateLimit(t *testing.T) {
	e := newEnv(t)
	const n, perSecond = 6, 25.0
	for range n {
		e.deadLetter(event{org: "org_a", host: "a.example.com"})
	}
	start := time.Now()
	sum, err := Replay(e.ctx, e.js, e.sc, Filter{}, ReplayOptions{RatePerSecond: perSecond})
	elapsed := time.Since(start)
	if err != nil || sum.Replayed != n {
		t.Fatalf("Replay = %+v, %v; want %d replayed", sum, err, n)
	}
	min := time.Duration(float64(n-1) / perSecond * float64(time.Second))
	if elapsed < min*9/10 {
		t.Errorf("%d events at %v/s took %v, want at least %v", n, perSecond, elapsed, min)
	}
	if sum.Duration < min*9/10 {
		t.Errorf("summary duration %v, want at least %v", sum.Duration, min)
	}
	if _, err := Replay(e.ctx, e.js, e.sc, Filter{}, ReplayOptions{RatePerSecond: -1}); err == nil {
		t.Error("a negative rate was accepted")
	}
}

func TestReplayRefusesUndecodableRequest(t *testing.T) {
	e := newEnv(t)
	req, _ := e.deadLetter(event{org: "org_a", host: "a.example.com"})
	bad := *req
	bad.EventID = "6a3bd0a4-5a44-4c4a-9f0e-3b8f0d2c7e11"
	failure := &envelope.Outcome{V: 1, EventID: bad.EventID, OrgID: bad.OrgID, Source: bad.Source, State: envelope.StateUndelivered,
		Final: true, Error: "invalid delivery request"}
	jstest.WriteUndelivered(e.ctx, t, e.js, e.sc, []byte(`{"v":1,"not":"a request"}`), failure)

	sum, err := Replay(e.ctx, e.js, e.sc, Filter{}, ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Matched != 2 || sum.Replayed != 1 || sum.Failed != 1 || len(sum.Errors) != 1 || sum.Errors[0].EventID != bad.EventID {
		t.Fatalf("summary = %+v, want 1 replayed and the bad one failed", sum)
	}
	if got := e.undeliveredIDs(); !slices.Equal(got, []string{bad.EventID}) {
		t.Errorf("undelivered = %v, want the bad event kept", got)
	}
}

func caseNamed(cases []filterCase, name string) filterCase {
	for _, c := range cases {
		if c.name == name {
			return c
		}
	}
	panic("no case " + name)
}

func hasAny(have, of []string) bool {
	for _, s := range of {
		if slices.Contains(have, s) {
			return true
		}
	}
	return false
}
