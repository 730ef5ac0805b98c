package undelivered

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestListByEachFilter(t *testing.T) {
	e := newEnv(t)
	fx := e.fixture()
	for _, tc := range fx.cases() {
		t.Run(tc.name, func(t *testing.T) {
			entries, err := List(e.ctx, e.js, e.sc, tc.f, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := entryIDs(entries); !slices.Equal(got, tc.want) {
				t.Errorf("List = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestListEntries(t *testing.T) {
	e := newEnv(t)
	req, body := e.deadLetter(event{org: "org_a", host: "a.example.com", replay: 2})
	entries, err := List(e.ctx, e.js, e.sc, Filter{}, 0)
	if err != nil || len(entries) != 1 {
		t.Fatalf("List = %d entries, %v; want 1", len(entries), err)
	}
	got := entries[0]
	if !bytes.Equal(got.Request, body) {
		t.Errorf("Request = %s, want the unchanged request %s", got.Request, body)
	}
	if got.Subject != e.sc.UndeliveredSubject(req.OrgID, req.Source, req.EventID) || got.EventID() != req.EventID ||
		got.OrgID() != "org_a" || got.Source() != "job" {
		t.Errorf("identity = %s / %s %s %s, want the event's", got.Subject, got.EventID(), got.OrgID(), got.Source())
	}
	if got.Failure == nil || got.Failure.Attempts != 6 || got.Failure.StatusCode != 503 || got.Failure.Host != "a.example.com" {
		t.Errorf("Failure = %+v, want the failure record", got.Failure)
	}
	if !got.Replayed || got.Seq == 0 || time.Since(got.StoredAt) > time.Minute {
		t.Errorf("Replayed, Seq, StoredAt = %v, %d, %v; want true, > 0, now", got.Replayed, got.Seq, got.StoredAt)
	}
}

func TestListLimitAndAll(t *testing.T) {
	e := newEnv(t)
	var want []string
	for range 5 {
		req, _ := e.deadLetter(event{org: "org_a", host: "a.example.com"})
		want = append(want, req.EventID)
	}
	entries, err := List(e.ctx, e.js, e.sc, Filter{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].EventID() != want[0] || entries[1].EventID() != want[1] {
		t.Errorf("List(limit 2) = %v, want the two oldest %v", entryIDs(entries), want[:2])
	}
	var got []string
	for en, err := range All(e.ctx, e.js, e.sc, Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, en.EventID())
	}
	if !slices.Equal(got, want) {
		t.Errorf("All = %v, want %v in stream order", got, want)
	}
}

func TestListManyEventIDs(t *testing.T) {
	e := newEnv(t)
	req, _ := e.deadLetter(event{org: "org_a", host: "a.example.com"})
	e.deadLetter(event{org: "org_a", host: "a.example.com"})
	// Up to maxFilterSubjects ids are filter subjects; more are matched client-side.
	for _, n := range []int{maxFilterSubjects, maxFilterSubjects + 10} {
		ids := []string{req.EventID}
		for i := range n - 1 {
			ids = append(ids, "missing-"+strconv.Itoa(i))
		}
		entries, err := List(e.ctx, e.js, e.sc, Filter{EventIDs: ids}, 0)
		if err != nil {
			t.Fatalf("%d ids: %v", n, err)
		}
		if got := entryIDs(entries); len(got) != 1 || got[0] != req.EventID {
			t.Errorf("%d ids: List = %v, want [%s]", n, got, req.EventID)
		}
	}
}

func TestShow(t *testing.T) {
	e := newEnv(t)
	fx := e.fixture()
	got, err := Show(e.ctx, e.js, e.sc, fx.b1.EventID)
	if err != nil || got.EventID() != fx.b1.EventID || got.Request == nil {
		t.Errorf("Show = %s, %v; want %s with its request", got.EventID(), err, fx.b1.EventID)
	}
	if _, err := Show(e.ctx, e.js, e.sc, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Show(unknown) error = %v, want ErrNotFound", err)
	}
}

func TestInvalidFilter(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	for name, f := range map[string]Filter{
		"org with a dot":     {OrgID: "a.b"},
		"wildcard source":    {Source: "*"},
		"event id wildcard":  {EventIDs: []string{">"}},
		"until before since": {Since: now, Until: now.Add(-time.Hour)},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := List(e.ctx, e.js, e.sc, f, 0); !errors.Is(err, ErrInvalidFilter) {
				t.Errorf("List error = %v, want ErrInvalidFilter", err)
			}
			if _, err := Replay(e.ctx, e.js, e.sc, f, ReplayOptions{}); !errors.Is(err, ErrInvalidFilter) {
				t.Errorf("Replay error = %v, want ErrInvalidFilter", err)
			}
			if _, err := Purge(e.ctx, e.js, e.sc, f, func(int, []Entry) bool { return true }); !errors.Is(err, ErrInvalidFilter) {
				t.Errorf("Purge error = %v, want ErrInvalidFilter", err)
			}
		})
	}
}
