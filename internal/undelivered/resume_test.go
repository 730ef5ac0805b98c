package undelivered

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// An interrupted replay, run again, replays every event exactly once.
func TestReplayInterruptedAndRunAgain(t *testing.T) {
	e := newEnv(t)
	const n, k = 20, 7
	var want []string
	for range n {
		req, _ := e.deadLetter(event{org: "org_a", host: "a.example.com"})
		want = append(want, req.EventID)
	}
	slices.Sort(want)

	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	sum, err := Replay(ctx, e.js, e.sc, Filter{}, ReplayOptions{Progress: func(done, total int) {
		if total != n {
			t.Errorf("Progress total = %d, want %d", total, n)
		}
		if done == k {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || sum.Replayed != k {
		t.Fatalf("interrupted Replay = %+v, %v; want %d replayed and context.Canceled", sum, err, k)
	}
	if left := len(e.undeliveredIDs()); left != n-k {
		t.Errorf("undelivered holds %d events after the interruption, want %d", left, n-k)
	}

	sum, err = Replay(e.ctx, e.js, e.sc, Filter{}, ReplayOptions{})
	if err != nil || sum.Matched != n-k || sum.Replayed != n-k {
		t.Fatalf("second Replay = %+v, %v; want %d matched and replayed", sum, err, n-k)
	}
	if got := e.deliveredIDs(); !slices.Equal(got, want) {
		t.Errorf("WEBHOOKS holds %d messages %v, want each of the %d events once", len(got), got, n)
	}
	if left := e.undeliveredIDs(); len(left) != 0 {
		t.Errorf("undelivered still holds %v", left)
	}
}

// A replay that was published but whose undelivered message survived (the
// process died in between) is not published again within the dedupe window.
func TestReplayAfterCrashBetweenPublishAndDelete(t *testing.T) {
	e := newEnv(t)
	req, body := e.deadLetter(event{org: "org_a", host: "a.example.com"})
	msg := nats.NewMsg(e.sc.DeliverSubject(req.OrgID, req.Source))
	msg.Data = body
	msg.Header.Set(nats.MsgIdHdr, ReplayMsgID(req.EventID, 1))
	msg.Header.Set(HeaderReplay, "1")
	if _, err := e.js.PublishMsg(e.ctx, msg); err != nil {
		t.Fatal(err)
	}

	sum, err := Replay(e.ctx, e.js, e.sc, Filter{}, ReplayOptions{})
	if err != nil || sum.Matched != 1 || sum.Skipped != 1 || sum.Replayed != 0 {
		t.Fatalf("Replay = %+v, %v; want 1 skipped (already replayed)", sum, err)
	}
	if got := e.deliveredIDs(); !slices.Equal(got, []string{req.EventID}) {
		t.Errorf("WEBHOOKS = %v, want the event once", got)
	}
	if left := e.undeliveredIDs(); len(left) != 0 {
		t.Errorf("undelivered still holds %v", left)
	}
}

// After the dedupe window, the delivery log (ReplayOptions.History) shows
// whether a deliverer already handled the replay; then nothing is published.
func TestReplaySkipsWhatADelivererAlreadyHandled(t *testing.T) {
	for _, tc := range []struct {
		name      string
		state     string
		wantKept  bool
		wantFinal bool
	}{
		{"delivered", envelope.StateDelivered, false, true},
		{"retrying", envelope.StateRetrying, false, false},
		{"failed again", envelope.StateUndelivered, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			req, body := e.deadLetter(event{org: "org_a", host: "a.example.com"})
			later := &envelope.Outcome{V: 1, EventID: req.EventID, OrgID: req.OrgID, Source: req.Source, EventType: req.EventType,
				Host: req.Host(), State: tc.state, Final: tc.wantFinal, Success: tc.state == envelope.StateDelivered,
				Attempts: 2, StatusCode: 500, Replay: 1, QueuedAt: time.Now().UTC()}
			history := func(_ context.Context, org, id string) (*envelope.Outcome, error) {
				if org == req.OrgID && id == req.EventID {
					return later, nil
				}
				return nil, nil
			}
			sum, err := Replay(e.ctx, e.js, e.sc, Filter{}, ReplayOptions{History: history})
			if err != nil || sum.Skipped != 1 || sum.Replayed != 0 {
				t.Fatalf("Replay = %+v, %v; want 1 skipped", sum, err)
			}
			if n := len(e.delivered()); n != 0 {
				t.Errorf("WEBHOOKS holds %d messages, want none", n)
			}
			left, err := List(e.ctx, e.js, e.sc, Filter{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.wantKept {
				if len(left) != 0 {
					t.Errorf("undelivered still holds %v", entryIDs(left))
				}
				return
			}
			if len(left) != 1 || !bytes.Equal(left[0].Request, body) || left[0].Failure == nil || left[0].Failure.Replay != 1 {
				t.Fatalf("undelivered = %+v, want the request with the replay-1 failure record", left)
			}
			// The refreshed record makes the next replay the second one.
			if _, err := Replay(e.ctx, e.js, e.sc, Filter{}, ReplayOptions{}); err != nil {
				t.Fatal(err)
			}
			msgs := e.delivered()
			if len(msgs) != 1 || msgs[0].Header.Get(nats.MsgIdHdr) != ReplayMsgID(req.EventID, 2) {
				t.Errorf("next replay published %d messages, want 1 with Nats-Msg-Id %s", len(msgs), ReplayMsgID(req.EventID, 2))
			}
		})
	}
}

// An event that disappears between counting and replaying is skipped.
func TestReplaySkipsEventsGoneMeanwhile(t *testing.T) {
	e := newEnv(t)
	fx := e.fixture()
	sum, err := Replay(e.ctx, e.js, e.sc, Filter{}, ReplayOptions{Confirm: func(int, []Entry) bool {
		if _, err := Purge(e.ctx, e.js, e.sc, Filter{EventIDs: []string{fx.a1.EventID}}, func(int, []Entry) bool { return true }); err != nil {
			t.Error(err)
		}
		return true
	}})
	if err != nil || sum.Matched != 4 || sum.Replayed != 3 || sum.Skipped != 1 {
		t.Fatalf("Replay = %+v, %v; want 3 replayed and 1 skipped", sum, err)
	}
	if got := e.deliveredIDs(); !slices.Equal(got, ids(fx.a2, fx.b1, fx.b2)) {
		t.Errorf("replayed %v, want %v", got, ids(fx.a2, fx.b1, fx.b2))
	}
}
