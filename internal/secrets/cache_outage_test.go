package secrets

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/embedded"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
)

// startServer starts an embedded JetStream server on port (-1: any) with its
// store in dir, shut down when the test ends.
func startServer(t *testing.T, port int, dir string) *server.Server {
	t.Helper()
	s, err := embedded.Start(embedded.Config{Port: port, StoreDir: dir})
	if err != nil {
		t.Fatalf("embedded.Start: %v", err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// TestCacheSurvivesServerRestart stops the NATS server under a live Cache:
// the Cache reports it is down but keeps signing with the secret it knows;
// when the server is back, the watch is re-established and later changes
// take effect again.
func TestCacheSurvivesServerRestart(t *testing.T) {
	dir := t.TempDir()
	s1 := startServer(t, -1, dir)
	port := s1.Addr().(*net.TCPAddr).Port
	nc, err := nats.Connect(s1.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv := createBucket(t, js)
	clk := newClock()
	m := newManager(kv, mustKeyring(t, "k1"), clk)
	first, _, err := m.Create(ctx(t), "org_1")
	if err != nil {
		t.Fatal(err)
	}
	c := newCache(t, kv, m.Keyring)
	waitSigning(t, c, "org_1", t0, []string{first})

	s1.Shutdown()
	s1.WaitForShutdown()
	jstest.Eventually(t, 10*time.Second, func() bool { return !c.Ready() }, "Ready() to turn false with the server down")
	if c.DownSince().IsZero() {
		t.Errorf("DownSince() is zero while down")
	}
	if got, err := c.Signing("org_1", t0); err != nil || len(got) != 1 || got[0] != first {
		t.Errorf("Signing() while down = %d secrets, %v; want the last known secret", len(got), err)
	}
	short, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, _, err := m.Roll(short, "org_1", 0); err == nil {
		t.Errorf("Roll() with the server down = nil error, want one")
	}

	downAt := time.Now()
	startServer(t, port, dir)
	jstest.Eventually(t, 20*time.Second, c.Ready, "Ready() after the server restarted")
	t.Logf("cache live again %v after the restart", time.Since(downAt))

	var fresh string
	jstest.Eventually(t, 10*time.Second, func() bool {
		fresh, _, err = m.Roll(ctx(t), "org_1", 0)
		return err == nil
	}, "Roll() after restart: %v", err)
	start := time.Now()
	waitSigningWithin(t, 15*time.Second, c, "org_1", t0, []string{fresh})
	t.Logf("after the restart, a roll took %v to reach the cache", time.Since(start))
	if !c.DownSince().IsZero() {
		t.Errorf("DownSince() = %v while live, want zero", c.DownSince())
	}
}
