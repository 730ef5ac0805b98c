package ssrf

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/deliver"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// fastRetries keeps six attempts, 10 ms steps apart.
var fastRetries = retry.Schedule{10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond, 40 * time.Millisecond, 50 * time.Millisecond}

// onlyReceiver is the deliverer's whole allow-list: the one address of the
// redirecting receiver (and of JetStream, which the guard does not see).
var onlyReceiver = egress.Policy{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}

// testDialTimeGuard runs a real deliverer against every target, published
// straight onto the stream so that only the dial-time guard stands in the
// way, and checks how each event ended and that no canary saw a connection.
func testDialTimeGuard(t *testing.T, dns *rebindDNS, canaries []*canary) {
	srv := jstest.Server(t)
	_, js := jstest.Connect(t, srv)
	ctx := jstest.Context(t, 60*time.Second)
	sc := streams.Config{AckWait: 5 * time.Second}.WithDefaults()
	res, err := streams.Ensure(ctx, js, sc)
	if err != nil {
		t.Fatal(err)
	}
	rd := newRedirector(t)
	startDeliverer(t, js, sc)

	// The rebinding names pass the publish-time check: their first
	// resolution is public. Publisher.Publish would resolve them again, so
	// they are published directly after the check.
	checker := publish.New(js, publish.Config{Streams: sc, URLs: httpOK})
	refused := map[string]string{} // event id -> url
	for _, u := range rebindTargets {
		req := newRequest(t, u)
		if err := checker.Check(ctx, req); err != nil {
			t.Fatalf("publish-time check of %s: %v; want it to pass (first resolution %v)", u, err, dns.given(req.Host()))
		}
		refused[publishRaw(t, ctx, js, sc, req)] = u
	}
	for _, u := range append(append([]string(nil), literalTargets...), nameTargets...) {
		refused[publishRaw(t, ctx, js, sc, newRequest(t, u))] = u
	}
	alt := map[string]string{}
	for _, u := range altNotationTargets {
		alt[publishRaw(t, ctx, js, sc, newRequest(t, u))] = u
	}
	type redirect struct {
		code   int
		target string
	}
	redirects := map[string]redirect{}
	for _, code := range redirectCodes {
		for _, target := range redirectTargets() {
			u := rd.URL + "/moved?code=" + strconv.Itoa(code) + "&to=" + url.QueryEscape(target)
			redirects[publishRaw(t, ctx, js, sc, newRequest(t, u))] = redirect{code, target}
		}
	}

	for id, u := range refused {
		o := finalOutcome(t, js, sc, id)
		if o.State != envelope.StateUndelivered || o.Attempts != 1 || o.StatusCode != 0 || !strings.Contains(o.Error, "destination refused") {
			t.Errorf("%s: outcome %s after %d attempts, status %d, error %q; want undelivered after 1 attempt: destination refused",
				u, o.State, o.Attempts, o.StatusCode, o.Error)
		}
		if m, err := res.Undelivered.GetLastMsgForSubject(ctx, sc.UndeliveredSubject("org_ssrf", envelope.SourceJob, id)); err != nil || m == nil {
			t.Errorf("%s: not in the undelivered stream: %v", u, err)
		}
	}
	t.Logf("[ok] %d destinations refused at dial time: terminal after one attempt", len(refused))
	for id, u := range alt {
		if o := finalOutcome(t, js, sc, id); o.State != envelope.StateUndelivered {
			t.Errorf("%s: outcome %s (%s), want undelivered", u, o.State, o.Error)
		}
	}
	t.Logf("[ok] %d inet_aton notations undelivered", len(alt))
	for id, r := range redirects {
		o := finalOutcome(t, js, sc, id)
		if o.State != envelope.StateUndelivered || o.Attempts != 6 || o.StatusCode != r.code || !strings.Contains(o.Error, "redirects are not followed") {
			t.Errorf("%d to %s: outcome %s after %d attempts, status %d, error %q; want undelivered after 6 attempts of HTTP %d",
				r.code, r.target, o.State, o.Attempts, o.StatusCode, o.Error, r.code)
		}
		if got := rd.attempts(id); !slices.Equal(got, []string{"1", "2", "3", "4", "5", "6"}) {
			t.Errorf("%d to %s: the redirecting receiver got attempts %v, want 1..6", r.code, r.target, got)
		}
	}
	t.Logf("[ok] %d redirects not followed: retried as failures, 6 attempts each reached the receiver", len(redirects))

	for _, u := range rebindTargets {
		given := dns.given(newRequest(t, u).Host())
		if len(given) < 2 || given[0] != rebindFirst || given[len(given)-1] != rebindLater {
			t.Errorf("%s: DNS answers %v, want %v first and %v at dial time", u, given, rebindFirst, rebindLater)
		}
	}
	t.Logf("[ok] rebinding names were public at publish time and private at dial time")

	checkCanaries(t, canaries)
}

// checkCanaries fails the test for every connection a canary accepted.
func checkCanaries(t *testing.T, canaries []*canary) {
	t.Helper()
	for _, c := range canaries {
		if conns, requests := c.intruders(t); len(conns) > 0 {
			t.Errorf("canary %s was reached: %d connections from %v, %d HTTP requests", c.addr, len(conns), conns, requests)
		}
	}
	t.Logf("[ok] %d canaries got zero connections", len(canaries))
}

// startDeliverer runs a real deliverer whose guard allows only 127.0.0.1,
// until the test ends.
func startDeliverer(t *testing.T, js jetstream.JetStream, sc streams.Config) {
	t.Helper()
	client := egress.NewClient(onlyReceiver, egress.ClientConfig{DialTimeout: 2 * time.Second})
	logger := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	ctx, cancel := context.WithCancel(context.Background())
	d, err := deliver.New(ctx, js, client, nil, deliver.Config{
		Streams: sc, Policy: retry.Policy{Schedule: fastRetries}, URLs: httpOK,
		ShutdownTimeout: 5 * time.Second, Logger: &logger,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.Run(ctx); err != nil {
			t.Errorf("deliverer Run: %v", err)
		}
		client.CloseIdleConnections()
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// newRequest builds a job delivery request to u that passes the syntax
// checks (but not necessarily the address policy).
func newRequest(t *testing.T, u string) *envelope.Request {
	t.Helper()
	req, err := envelope.NewJobRequest(time.Now(), "org_ssrf", u, job())
	if err != nil {
		t.Fatal(err)
	}
	if err := req.Validate(httpOK); err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	return req
}

// publishRaw puts req on WEBHOOKS as a publisher would, without the
// publish-time address check, and returns its event id.
func publishRaw(t *testing.T, ctx context.Context, js jetstream.JetStream, sc streams.Config, req *envelope.Request) string {
	t.Helper()
	data, err := req.Encode()
	if err != nil {
		t.Fatal(err)
	}
	msg := nats.NewMsg(sc.DeliverSubject(req.OrgID, req.Source))
	msg.Data = data
	msg.Header.Set(nats.MsgIdHdr, req.EventID)
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatalf("publish %s: %v", req.URL, err)
	}
	return req.EventID
}

// finalOutcome waits for an event's final outcome.
func finalOutcome(t *testing.T, js jetstream.JetStream, sc streams.Config, eventID string) *envelope.Outcome {
	t.Helper()
	return jstest.FinalOutcome(t, js, sc, "org_ssrf", eventID, 20*time.Second)
}

// redirector is the one allowed receiver: it answers every request with the
// redirect its query asks for (?code=307&to=URL) and records the attempts.
type redirector struct {
	*httptest.Server
	mu  sync.Mutex
	got map[string][]string // event id -> Sixtyfour-Delivery-Attempt values
}

func newRedirector(t *testing.T) *redirector {
	rd := &redirector{got: make(map[string][]string)}
	rd.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rd.mu.Lock()
		id := r.Header.Get(deliver.HeaderEventID)
		rd.got[id] = append(rd.got[id], r.Header.Get(deliver.HeaderAttempt))
		rd.mu.Unlock()
		code, err := strconv.Atoi(r.URL.Query().Get("code"))
		if err != nil {
			code = http.StatusBadRequest
		}
		w.Header().Set("Location", r.URL.Query().Get("to"))
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "moved\n")
	}))
	t.Cleanup(rd.Close)
	return rd
}

// attempts returns the attempt numbers the receiver saw for an event.
func (rd *redirector) attempts(eventID string) []string {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return append([]string(nil), rd.got[eventID]...)
}
