package undelivered

import (
	"errors"
	"slices"
	"testing"
)

func TestPurgeByEachFilter(t *testing.T) {
	for _, tc := range newEnv(t).fixture().cases() {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			fx := e.fixture()
			c := caseNamed(fx.cases(), tc.name)
			all := e.undeliveredIDs()

			var asked int
			n, err := Purge(e.ctx, e.js, e.sc, c.f, func(count int, sample []Entry) bool {
				asked = count
				if got := entryIDs(sample); !slices.Equal(got, c.want) {
					t.Errorf("sample = %v, want %v", got, c.want)
				}
				return false
			})
			if len(c.want) > 0 && (!errors.Is(err, ErrNotConfirmed) || n != 0 || asked != len(c.want)) {
				t.Errorf("declined Purge = %d, %v (asked about %d); want 0, ErrNotConfirmed, asked about %d", n, err, asked, len(c.want))
			}
			if got := e.undeliveredIDs(); !slices.Equal(got, all) {
				t.Fatalf("a declined purge left %v, want %v", got, all)
			}

			n, err = Purge(e.ctx, e.js, e.sc, c.f, func(int, []Entry) bool { return true })
			if err != nil || n != len(c.want) {
				t.Fatalf("Purge = %d, %v; want %d", n, err, len(c.want))
			}
			left := e.undeliveredIDs()
			if len(left) != len(all)-len(c.want) || hasAny(left, c.want) {
				t.Errorf("after purge undelivered = %v, want %v minus %v", left, all, c.want)
			}
			if len(e.delivered()) != 0 {
				t.Error("purge published to WEBHOOKS")
			}
		})
	}
}

func TestPurgeNilConfirmDeletesNothing(t *testing.T) {
	e := newEnv(t)
	e.fixture()
	if n, err := Purge(e.ctx, e.js, e.sc, Filter{}, nil); n != 0 || !errors.Is(err, ErrNotConfirmed) {
		t.Errorf("Purge(nil confirm) = %d, %v; want 0, ErrNotConfirmed", n, err)
	}
	if len(e.undeliveredIDs()) != 4 {
		t.Error("Purge with a nil confirm deleted messages")
	}
}
