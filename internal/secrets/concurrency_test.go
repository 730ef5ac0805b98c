package secrets

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// raceKV runs beforeWrite once, just before the first write it forwards:
// a second admin writing between this Manager's read and its write.
type raceKV struct {
	jetstream.KeyValue
	once        sync.Once
	beforeWrite func()
}

func (r *raceKV) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	r.once.Do(r.beforeWrite)
	return r.KeyValue.Create(ctx, key, value, opts...)
}

func (r *raceKV) Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error) {
	r.once.Do(r.beforeWrite)
	return r.KeyValue.Update(ctx, key, value, revision)
}

// TestLostUpdateIsRetried forces a revision conflict between the read and
// the write of one operation, deterministically, and checks that both
// admins' changes are in the final record.
func TestLostUpdateIsRetried(t *testing.T) {
	tests := []struct {
		name  string
		setup bool // the org has a secret before the race
		mine  func(m *Manager, org string) (Meta, error)
		other func(m *Manager, org string) (Meta, error)
		want  func(mine, other Meta) map[string]string
	}{
		{
			name:  "two rolls",
			setup: true,
			mine:  roll(DefaultOverlap),
			other: roll(DefaultOverlap),
			want: func(mine, other Meta) map[string]string {
				return map[string]string{mine.ID: StatusActive, other.ID: StatusExpiring}
			},
		},
		{
			name:  "two creates of a new org (kv.Create conflict)",
			mine:  create,
			other: create,
			want: func(mine, other Meta) map[string]string {
				return map[string]string{mine.ID: StatusActive, other.ID: StatusRevoked}
			},
		},
		{
			name:  "create against a roll",
			setup: true,
			mine:  create,
			other: roll(DefaultOverlap),
			want: func(mine, other Meta) map[string]string {
				return map[string]string{mine.ID: StatusActive, other.ID: StatusRevoked}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv := newBucket(t)
			kr := mustKeyring(t, "k1")
			other := newManager(kv, kr, newClock())
			if tt.setup {
				if _, _, err := other.Create(ctx(t), "org_1"); err != nil {
					t.Fatal(err)
				}
			}
			var otherMeta Meta
			var otherErr error
			racy := &raceKV{KeyValue: kv, beforeWrite: func() { otherMeta, otherErr = tt.other(other, "org_1") }}
			mine, err := tt.mine(newManager(racy, kr, newClock()), "org_1")
			if err != nil || otherErr != nil {
				t.Fatalf("mine = %v, other = %v; want both nil", err, otherErr)
			}
			got := statuses(readRecord(t, kv, "org_1"))
			for id, want := range tt.want(mine, otherMeta) {
				if got[id] != want {
					t.Errorf("statuses = %v, want %s %s (lost update?)", got, id, want)
				}
			}
		})
	}
}

func create(m *Manager, org string) (Meta, error) {
	_, meta, err := m.Create(context.Background(), org)
	return meta, err
}

func roll(overlap time.Duration) func(m *Manager, org string) (Meta, error) {
	return func(m *Manager, org string) (Meta, error) {
		_, meta, err := m.Roll(context.Background(), org, overlap)
		return meta, err
	}
}

// TestConcurrentRolls lets two goroutines roll the same org at once, many
// times: every roll succeeds, none is lost, and the record never has more
// than two signing secrets.
func TestConcurrentRolls(t *testing.T) {
	kv := newBucket(t)
	kr := mustKeyring(t, "k1")
	m := &Manager{KV: kv, Keyring: kr} // real clock, shared by both goroutines
	c := newCache(t, kv, kr)
	if _, _, err := m.Create(ctx(t), "org_1"); err != nil {
		t.Fatal(err)
	}
	const rounds = 20
	for round := range rounds {
		start := make(chan struct{})
		var wg sync.WaitGroup
		plain := make([]string, 2)
		metas := make([]Meta, 2)
		errs := make([]error, 2)
		for i := range 2 {
			wg.Go(func() {
				<-start
				plain[i], metas[i], errs[i] = m.Roll(context.Background(), "org_1", DefaultOverlap)
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: Roll: %v", round, err)
		}
		r := readRecord(t, kv, "org_1") // decodeRecord checks: ≤1 active, ≤1 expiring
		got := statuses(r)
		a, b := got[metas[0].ID], got[metas[1].ID]
		if !(a == StatusActive && b == StatusExpiring || a == StatusExpiring && b == StatusActive) {
			t.Fatalf("round %d: statuses = %v, want one roll active and the other expiring", round, got)
		}
		want := []string{plain[0], plain[1]}
		if a == StatusExpiring {
			want = []string{plain[1], plain[0]}
		}
		waitSigning(t, c, "org_1", time.Now(), want)
	}
	r := readRecord(t, kv, "org_1")
	if n := len(r.Secrets); n != 2+MaxRevoked {
		t.Errorf("final record has %d entries, want %d", n, 2+MaxRevoked)
	}
	t.Logf("%d concurrent roll pairs: final record %s", rounds, fmt.Sprint(statuses(r)))
}
