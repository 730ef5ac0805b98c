package rotation

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/deliver"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
	"github.com/sixtyfour-oss/webhooks/pkg/sign"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// delivery is one request a receiver got, with the moment it arrived.
type delivery struct {
	at     time.Time
	header http.Header
	body   []byte
}

// verifies reports whether the delivery verifies with secret alone.
func (d delivery) verifies(secret string) bool {
	return sign.Verify(d.header.Get(sign.HeaderName), d.body, []string{secret}, time.Now(), 0) == nil
}

// pipeline is a real JetStream server, secrets store, cache, deliverer and
// receiver; logs collects everything the deliverer logs.
type pipeline struct {
	t       *testing.T
	js      jetstream.JetStream
	res     *streams.Resources
	mgr     *secrets.Manager
	pub     *publish.Publisher
	url     string
	logs    *jstest.LogBuffer
	mu      sync.Mutex
	got     []delivery
	stopped atomic.Bool
}

func newPipeline(t *testing.T) *pipeline {
	t.Helper()
	s := jstest.Server(t)
	_, js := jstest.Connect(t, s)
	ctx := jstest.Context(t, 60*time.Second)
	res, err := streams.Ensure(ctx, js, streams.Config{AckWait: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{t: t, js: js, res: res, logs: &jstest.LogBuffer{},
		mgr: &secrets.Manager{KV: res.Secrets, Keyring: secrets.DevKeyring()}}
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.got = append(p.got, delivery{at: time.Now(), header: r.Header.Clone(), body: body})
		p.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	p.url = rc.URL
	allow := egress.Policy{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	p.pub = publish.New(js, publish.Config{URLs: envelope.URLPolicy{AllowHTTP: true}, Destinations: allow})
	return p
}

// start runs the deliverer with a secrets cache on the bucket.
func (p *pipeline) start() {
	p.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cache, err := secrets.NewCache(ctx, p.res.Secrets, secrets.DevKeyring(), time.Now)
	if err != nil {
		cancel()
		p.t.Fatal(err)
	}
	log := zerolog.New(p.logs).Level(zerolog.DebugLevel)
	allow := egress.Policy{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	client := egress.NewClient(allow, egress.ClientConfig{})
	d, err := deliver.New(ctx, p.js, client, cache, deliver.Config{
		Streams: streams.Config{AckWait: 3 * time.Second}, URLs: envelope.URLPolicy{AllowHTTP: true}, Logger: &log,
		Policy: retry.Policy{Schedule: retry.Schedule{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}},
	})
	if err != nil {
		cancel()
		p.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	p.t.Cleanup(func() { cancel(); <-done; cache.Stop(); client.CloseIdleConnections() })
}

// publishJob publishes one job event for org and returns its id.
func (p *pipeline) publishJob(org string) string {
	p.t.Helper()
	r, err := p.pub.PublishJob(jstest.Context(p.t, 10*time.Second), org, p.url, envelope.JobResult{
		TaskID: "t", Status: envelope.StatusFailed, TaskType: "find_email", Error: "x"})
	if err != nil {
		p.t.Fatal(err)
	}
	return r.EventID
}

// deliveries returns a copy of what the receiver got.
func (p *pipeline) deliveries() []delivery {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]delivery(nil), p.got...)
}

// deliveryOf waits for the delivery of one event.
func (p *pipeline) deliveryOf(eventID string) delivery {
	p.t.Helper()
	var found delivery
	jstest.Eventually(p.t, 10*time.Second, func() bool {
		for _, d := range p.deliveries() {
			if d.header.Get(deliver.HeaderEventID) == eventID {
				found = d
				return true
			}
		}
		return false
	}, "delivery of %s", eventID)
	return found
}

// untilSigned publishes probes until one is signed as want says (the cache
// took the change) and returns how long the change took to show.
func (p *pipeline) untilSigned(org string, want func(delivery) bool) time.Duration {
	p.t.Helper()
	start := time.Now()
	for time.Since(start) < 5*time.Second {
		if want(p.deliveryOf(p.publishJob(org))) {
			return time.Since(start)
		}
	}
	p.t.Fatalf("change not in effect after 5 s")
	return 0
}

// assertNoSecretsLogged checks the deliverer's logs for every plaintext.
func (p *pipeline) assertNoSecretsLogged(plaintexts ...string) {
	p.t.Helper()
	logs := p.logs.String()
	if logs == "" {
		p.t.Fatal("no logs captured")
	}
	for _, s := range plaintexts {
		if strings.Contains(logs, s) || strings.Contains(logs, s[len(sign.SecretPrefix):]) {
			p.t.Errorf("secret …%s appears in the logs", s[len(s)-4:])
		}
	}
	for _, d := range p.deliveries() {
		if sig := d.header.Get(sign.HeaderName); sig != "" && strings.Contains(logs, sig[strings.Index(sig, "v1="):]) {
			p.t.Errorf("a full signature appears in the logs")
		}
	}
}

func TestRollDuringLiveDeliveries(t *testing.T) {
	p := newPipeline(t)
	ctx := jstest.Context(t, 60*time.Second)
	oldSecret, _, err := p.mgr.Create(ctx, "org_1")
	if err != nil {
		t.Fatal(err)
	}
	p.start()

	// A steady stream of deliveries runs through the roll and the overlap.
	stop := make(chan struct{})
	streamDone := make(chan struct{})
	go func() {
		defer close(streamDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if _, err := p.pub.PublishJob(ctx, "org_1", p.url, envelope.JobResult{
				TaskID: fmt.Sprint("live-", i), Status: envelope.StatusFailed, TaskType: "find_email", Error: "x"}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	jstest.Eventually(t, 5*time.Second, func() bool { return len(p.deliveries()) >= 20 }, "deliveries before the roll")

	const overlap = 3 * time.Second
	rolledAt := time.Now()
	newSecret, _, err := p.mgr.Roll(ctx, "org_1", overlap)
	if err != nil {
		t.Fatal(err)
	}
	took := p.untilSigned("org_1", func(d delivery) bool { return d.verifies(newSecret) })
	t.Logf("roll in effect %v after the write", took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("roll took %v to take effect, want within 1 s", took)
	}
	// Let the live stream run through the overlap, then past its end.
	jstest.Eventually(t, 10*time.Second, func() bool { return time.Since(rolledAt) > overlap+time.Second }, "overlap over")
	close(stop)
	<-streamDone
	after := p.deliveryOf(p.publishJob("org_1"))

	var before, during, late int
	for _, d := range p.deliveries() {
		oldOK, newOK := d.verifies(oldSecret), d.verifies(newSecret)
		switch {
		case d.at.Before(rolledAt):
			before++
			if !oldOK {
				t.Errorf("delivery before the roll does not verify with the old secret")
			}
		case d.at.After(rolledAt.Add(time.Second)) && d.at.Before(rolledAt.Add(overlap-500*time.Millisecond)):
			during++
			// Receivers holding only one of the two secrets both accept it.
			if !oldOK || !newOK {
				t.Errorf("delivery during the overlap: verifies with old=%t new=%t, want both", oldOK, newOK)
			}
			if n := strings.Count(d.header.Get(sign.HeaderName), "v1="); n != 2 {
				t.Errorf("delivery during the overlap carries %d signatures, want 2", n)
			}
		case d.at.After(rolledAt.Add(overlap + 500*time.Millisecond)):
			late++
			if oldOK || !newOK {
				t.Errorf("delivery after the overlap: verifies with old=%t new=%t, want only new", oldOK, newOK)
			}
		}
		if !oldOK && !newOK {
			t.Errorf("a delivery verified with neither secret")
		}
	}
	if after.verifies(oldSecret) || !after.verifies(newSecret) {
		t.Error("after the overlap, an old-only receiver still accepts or a new-only receiver rejects")
	}
	t.Logf("deliveries: %d before the roll, %d during the overlap, %d after it", before, during, late)
	if before == 0 || during == 0 || late == 0 {
		t.Errorf("the live stream must cover every phase")
	}
	p.assertNoSecretsLogged(oldSecret, newSecret)
}

func TestCreateDeleteAndImmediateRoll(t *testing.T) {
	p := newPipeline(t)
	ctx := jstest.Context(t, 60*time.Second)
	p.start()

	// No secret yet: unsigned, for backward compatibility.
	if sig := p.deliveryOf(p.publishJob("org_1")).header.Get(sign.HeaderName); sig != "" {
		t.Errorf("delivery before any secret is signed: %q", sig)
	}
	first, _, err := p.mgr.Create(ctx, "org_1")
	if err != nil {
		t.Fatal(err)
	}
	p.untilSigned("org_1", func(d delivery) bool { return d.verifies(first) })

	// Create again: the previous secret is revoked at once, no overlap.
	second, _, err := p.mgr.Create(ctx, "org_1")
	if err != nil {
		t.Fatal(err)
	}
	p.untilSigned("org_1", func(d delivery) bool { return d.verifies(second) && !d.verifies(first) })
	if d := p.deliveryOf(p.publishJob("org_1")); strings.Count(d.header.Get(sign.HeaderName), "v1=") != 1 {
		t.Errorf("after create: %q, want one signature", d.header.Get(sign.HeaderName))
	}

	// Roll with overlap 0: an immediate cut-over.
	third, _, err := p.mgr.Roll(ctx, "org_1", 0)
	if err != nil {
		t.Fatal(err)
	}
	p.untilSigned("org_1", func(d delivery) bool { return d.verifies(third) && !d.verifies(second) })

	// Roll twice within an overlap: at most two signatures, the oldest dropped.
	fourth, _, _ := p.mgr.Roll(ctx, "org_1", time.Hour)
	fifth, _, err := p.mgr.Roll(ctx, "org_1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p.untilSigned("org_1", func(d delivery) bool { return d.verifies(fifth) })
	d := p.deliveryOf(p.publishJob("org_1"))
	if sig := d.header.Get(sign.HeaderName); strings.Count(sig, "v1=") != 2 || !d.verifies(fourth) || d.verifies(third) {
		t.Errorf("after two rolls: %q; want exactly [fifth, fourth]", sig)
	}

	// Delete: unsigned until a new secret exists.
	if err := p.mgr.Delete(ctx, "org_1"); err != nil {
		t.Fatal(err)
	}
	p.untilSigned("org_1", func(d delivery) bool { return d.header.Get(sign.HeaderName) == "" })
	p.assertNoSecretsLogged(first, second, third, fourth, fifth)
}

func TestNoUnsignedDeliveryWhenTheSecretCannotBeRead(t *testing.T) {
	p := newPipeline(t)
	ctx := jstest.Context(t, 60*time.Second)
	secret, _, err := p.mgr.Create(ctx, "org_1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.mgr.Create(ctx, "org_2"); err != nil {
		t.Fatal(err)
	}
	p.start()
	p.untilSigned("org_1", func(d delivery) bool { return d.verifies(secret) })

	// Corrupt org_1's record: its deliveries must fail closed, org_2's go on.
	if _, err := p.res.Secrets.Put(ctx, "org_1", []byte(`{"v":1,"org_id":"org_1","secrets":[{"id":"x","status":"active","ciphertext":"garbage"}]}`)); err != nil {
		t.Fatal(err)
	}
	jstest.Eventually(t, 5*time.Second, func() bool {
		return p.deliveryOf(p.publishJob("org_2")).header.Get(sign.HeaderName) != ""
	}, "org_2 still delivered")
	n := len(p.deliveries())
	blocked := p.publishJob("org_1")
	o := waitOutcome(t, p, "org_1", blocked)
	if o.State != envelope.StateUndelivered || !strings.Contains(o.Error, "signing secret unavailable") {
		t.Errorf("outcome of org_1's event = %+v", o)
	}
	for _, d := range p.deliveries()[n:] {
		if d.header.Get(deliver.HeaderEventID) == blocked {
			t.Fatalf("org_1's event was sent while its secret could not be read: %q", d.header.Get(sign.HeaderName))
		}
	}

	// The secret store goes away entirely: the cache keeps the last known
	// secrets, so org_2 is still signed, never sent unsigned.
	org2, _, err := p.mgr.Roll(ctx, "org_2", 0)
	if err != nil {
		t.Fatal(err)
	}
	p.untilSigned("org_2", func(d delivery) bool { return d.verifies(org2) })
	if err := p.js.DeleteKeyValue(ctx, p.res.Secrets.Bucket()); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		d := p.deliveryOf(p.publishJob("org_2"))
		if !d.verifies(org2) {
			t.Fatalf("org_2 delivery while the store is gone: %q", d.header.Get(sign.HeaderName))
		}
	}
	p.assertNoSecretsLogged(secret, org2)
}

// waitOutcome waits for an event's final outcome.
func waitOutcome(t *testing.T, p *pipeline, org, eventID string) *envelope.Outcome {
	t.Helper()
	return jstest.FinalOutcome(t, p.js, streams.Config{}, org, eventID, 10*time.Second)
}
