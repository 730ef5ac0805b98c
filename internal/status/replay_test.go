package status

import (
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/undelivered"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// TestLookupAfterReplay follows an undelivered event through an operator
// replay: queued on WEBHOOKS (replay 1, no attempt yet), its first attempt,
// and its delivery. Each status reports the replay's round, and the failed
// round before it.
func TestLookupAfterReplay(t *testing.T) {
	e := newEnv(t)
	failed := e.deadLetter("org_a")
	other := e.deadLetter("org_a") // stays undelivered: not replayed
	sum, err := undelivered.Replay(e.ctx, e.js, e.sc, undelivered.Filter{EventIDs: []string{failed.EventID}}, undelivered.ReplayOptions{})
	if err != nil || sum.Replayed != 1 {
		t.Fatalf("Replay = %+v, %v; want 1 replayed", sum, err)
	}
	wantPrev := Round{Replay: 0, State: envelope.StateUndelivered, Attempts: 6, StatusCode: 500, Error: failed.Error}

	lookup := func() Status {
		t.Helper()
		got, err := Lookup(e.ctx, e.store, e.js, e.sc, Query{EventID: failed.EventID})
		if err != nil || len(got) != 1 {
			t.Fatalf("Lookup = %+v, %v; want one status", got, err)
		}
		return got[0]
	}
	check := func(step string, s Status, replay, attempts int, state string, queued bool) {
		t.Helper()
		if s.Replay != replay || s.Attempts != attempts || s.State != state || s.ReplayQueued != queued || s.InUndelivered {
			t.Errorf("%s: replay %d, attempts %d, state %s, queued %v, in undelivered %v; want replay %d, attempts %d, state %s, queued %v, not in undelivered",
				step, s.Replay, s.Attempts, s.State, s.ReplayQueued, s.InUndelivered, replay, attempts, state, queued)
		}
		if s.PreviousRound == nil {
			t.Fatalf("%s: no previous round, want %+v", step, wantPrev)
		}
		if p := *s.PreviousRound; p.Replay != wantPrev.Replay || p.State != wantPrev.State || p.Attempts != wantPrev.Attempts ||
			p.StatusCode != wantPrev.StatusCode || p.Error != wantPrev.Error {
			t.Errorf("%s: previous round %+v, want %+v", step, p, wantPrev)
		}
	}

	s := lookup()
	check("queued", s, 1, 0, envelope.StateRetrying, true)
	if s.Final || s.StatusCode != 0 || s.Error != "" || s.QueuedAt.IsZero() {
		t.Errorf("queued: final %v, status %d, error %q, queued at %v; want not final, no response yet, the replay's queue time",
			s.Final, s.StatusCode, s.Error, s.QueuedAt)
	}

	// The deliverer's first attempt of the replay fails, then the second
	// one delivers; the log writer stores each.
	round := *failed
	round.Replay, round.QueuedAt, round.Attempts = 1, s.QueuedAt, 1
	round.State, round.Final, round.StatusCode, round.Error = envelope.StateRetrying, false, 503, "HTTP 503"
	round.FirstAttemptAt, round.LastAttemptAt = s.QueuedAt.Add(time.Second), s.QueuedAt.Add(time.Second)
	next := s.QueuedAt.Add(2 * time.Second)
	round.NextAttemptAt = &next
	e.write(&round)
	check("first attempt of the replay", lookup(), 1, 1, envelope.StateRetrying, false)

	round.Attempts, round.State, round.Final, round.Success, round.StatusCode, round.Error = 2, envelope.StateDelivered, true, true, 200, ""
	round.LastAttemptAt, round.NextAttemptAt = next, nil
	e.write(&round)
	s = lookup()
	check("delivered by the replay", s, 1, 2, envelope.StateDelivered, false)
	if !s.Final || !s.Success || s.StatusCode != 200 {
		t.Errorf("delivered: final %v, success %v, status %d", s.Final, s.Success, s.StatusCode)
	}

	// The event that was not replayed is reported as before.
	got, err := Lookup(e.ctx, e.store, e.js, e.sc, Query{EventID: other.EventID})
	if err != nil || len(got) != 1 || got[0].Replay != 0 || got[0].ReplayQueued || !got[0].InUndelivered || got[0].PreviousRound != nil {
		t.Errorf("not replayed: %+v, %v; want replay 0, in undelivered, no previous round", got, err)
	}
}

// A queued replay that a deliverer moved to the overflow stream (its
// organization's backlog held others up) is still reported as queued,
// with the time it was first queued on WEBHOOKS.
func TestLookupFindsAMovedReplay(t *testing.T) {
	e := newEnv(t)
	failed := e.deadLetter("org_a")
	if sum, err := undelivered.Replay(e.ctx, e.js, e.sc, undelivered.Filter{EventIDs: []string{failed.EventID}}, undelivered.ReplayOptions{}); err != nil || sum.Replayed != 1 {
		t.Fatalf("Replay = %+v, %v; want 1 replayed", sum, err)
	}
	deliver, err := e.js.Stream(e.ctx, e.sc.DeliverStream)
	if err != nil {
		t.Fatal(err)
	}
	queued, err := deliver.GetLastMsgForSubject(e.ctx, e.sc.DeliverSubject("org_a", envelope.SourceJob))
	if err != nil {
		t.Fatal(err)
	}
	// What the deliverer's move does: publish the copy, then ack (here:
	// delete) the original.
	moved := e.sc.MovedMsg("org_a", envelope.SourceJob, queued.Header, queued.Data, e.sc.DeliverStream, queued.Sequence, queued.Time)
	if _, err := e.js.PublishMsg(e.ctx, moved); err != nil {
		t.Fatal(err)
	}
	if err := deliver.DeleteMsg(e.ctx, queued.Sequence); err != nil {
		t.Fatal(err)
	}
	got, err := Lookup(e.ctx, e.store, e.js, e.sc, Query{EventID: failed.EventID})
	if err != nil || len(got) != 1 {
		t.Fatalf("Lookup = %+v, %v; want one status", got, err)
	}
	if s := got[0]; !s.ReplayQueued || s.Replay != 1 || !s.QueuedAt.Equal(queued.Time.UTC()) {
		t.Errorf("moved replay: queued %v, replay %d, queued at %v; want queued, replay 1, queued at %v (on WEBHOOKS)", s.ReplayQueued, s.Replay, s.QueuedAt, queued.Time.UTC())
	}
}
