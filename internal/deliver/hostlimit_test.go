package deliver

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// waitersOn waits until the limiter holds n waiters on host.
func waitersOn(t *testing.T, l *hostLimiter, host string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		got := 0
		if h := l.hosts[host]; h != nil {
			for _, q := range h.waiting {
				got += len(q)
			}
		}
		l.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters on %s, want %d", got, host, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A shared host's freed slot goes to the organizations waiting for it in
// turn: B, arriving behind eight of A's waiters, gets the second slot freed.
func TestHostSlotsGoToWaitingOrganizationsInTurn(t *testing.T) {
	l := newHostLimiter(2)
	ctx := context.Background()
	var held []func()
	for range 2 {
		r, ok := l.tryAcquire("hooks.example")
		if !ok {
			t.Fatal("a free slot was refused")
		}
		held = append(held, r)
	}
	if _, ok := l.tryAcquire("hooks.example"); ok {
		t.Fatal("a third slot was given with a limit of 2")
	}
	order := make(chan string, 16)
	var wg sync.WaitGroup
	enqueue := func(org string, i int) {
		wg.Go(func() {
			r, err := l.acquire(ctx, "hooks.example", org)
			if err != nil {
				t.Error(err)
				return
			}
			order <- fmt.Sprintf("%s%d", org, i)
			r()
		})
	}
	for i := range 8 {
		enqueue("A", i)
		waitersOn(t, l, "hooks.example", i+1)
	}
	enqueue("B", 0)
	waitersOn(t, l, "hooks.example", 9)
	if _, ok := l.tryAcquire("hooks.example"); ok {
		t.Fatal("tryAcquire jumped the waiters")
	}

	// One slot is given back and held again by whoever took it: the
	// waiters are served one at a time, in the limiter's order.
	held[1]()
	held = held[:1]
	wg.Wait()
	close(order)
	var got []string
	for o := range order {
		got = append(got, o)
	}
	want := []string{"A0", "B0", "A1", "A2", "A3", "A4", "A5", "A6", "A7"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("served %v, want %v", got, want)
	}
	held[0]()
	if len(l.hosts) != 0 {
		t.Fatalf("%d host entries left with nothing held", len(l.hosts))
	}
}

// A waiter whose context ends leaves the queue, and a slot granted to it
// as it gave up is passed on, not lost.
func TestHostWaiterThatGivesUpLeavesNoSlotBehind(t *testing.T) {
	l := newHostLimiter(1)
	r, _ := l.tryAcquire("h")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := l.acquire(ctx, "h", "A")
		errc <- err
	}()
	waitersOn(t, l, "h", 1)
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("acquire returned no error after its context ended")
	}
	r()
	r2, ok := l.tryAcquire("h")
	if !ok {
		t.Fatal("the slot was lost with the waiter that gave up")
	}
	r2()
	if len(l.hosts) != 0 {
		t.Fatalf("%d host entries left with nothing held", len(l.hosts))
	}
}
