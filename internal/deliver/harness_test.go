package deliver

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/embedded"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// fastSchedule keeps the real schedule's shape at a fiftieth of its length.
var fastSchedule = retry.Schedule{20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond, 160 * time.Millisecond, 320 * time.Millisecond}

// loopbackOnly is the unsafe allow-list every test needs to reach its
// httptest receivers.
var loopbackOnly = egress.Policy{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}

// harness is one test's pipeline: a real JetStream server with the
// pipeline's streams, a publisher, and deliverers started on demand.
type harness struct {
	t       *testing.T
	srv     *server.Server
	js      jetstream.JetStream
	streams streams.Config
	res     *streams.Resources
	pub     *publish.Publisher
}

func newHarness(t *testing.T, sc streams.Config) *harness {
	t.Helper()
	s := jstest.ServerWith(t, embedded.Config{Mappings: sc.WithDefaults().Mappings()})
	_, js := jstest.Connect(t, s)
	ctx := jstest.Context(t, 10*time.Second)
	if sc.AckWait == 0 {
		sc.AckWait = 5 * time.Second
	}
	res, err := streams.Ensure(ctx, js, sc)
	if err != nil {
		t.Fatal(err)
	}
	pub := publish.New(js, publish.Config{Streams: sc, URLs: envelope.URLPolicy{AllowHTTP: true}, Destinations: loopbackOnly})
	return &harness{t: t, srv: s, js: js, streams: sc.WithDefaults(), res: res, pub: pub}
}

// secretsFunc adapts a func to SecretSource.
type secretsFunc func(orgID string, now time.Time) ([]string, error)

func (f secretsFunc) Signing(orgID string, now time.Time) ([]string, error) { return f(orgID, now) }

// staticSecrets signs every organization's deliveries with the same secrets.
func staticSecrets(s ...string) SecretSource {
	return secretsFunc(func(string, time.Time) ([]string, error) { return s, nil })
}

// start runs a deliverer until the test ends or the returned stop is
// called; stop waits for Run to return.
func (h *harness) start(cfg Config, secrets SecretSource) (stop func()) {
	h.t.Helper()
	return h.startOn(h.js, cfg, secrets)
}

// startOwn runs a deliverer on its own NATS connection, which kill closes
// abruptly: the deliverer can no longer ack, as if its process had died.
func (h *harness) startOwn(cfg Config, secrets SecretSource) (kill func()) {
	h.t.Helper()
	nc, js := jstest.Connect(h.t, h.srv)
	stop := h.startOn(js, cfg, secrets)
	return func() { nc.Close(); stop() }
}

func (h *harness) startOn(js jetstream.JetStream, cfg Config, secrets SecretSource) (stop func()) {
	h.t.Helper()
	cfg.Streams = h.streams
	if cfg.Policy.Schedule == nil {
		cfg.Policy = retry.Policy{Schedule: fastSchedule}
	}
	cfg.URLs = envelope.URLPolicy{AllowHTTP: true}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		l := zerolog.New(zerolog.NewTestWriter(h.t)).Level(zerolog.WarnLevel)
		cfg.Logger = &l
	}
	client := egress.NewClient(loopbackOnly, egress.ClientConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	d, err := New(ctx, js, client, secrets, cfg)
	if err != nil {
		cancel()
		h.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.Run(ctx); err != nil {
			h.t.Errorf("Run: %v", err)
		}
		client.CloseIdleConnections()
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	h.t.Cleanup(stop)
	return stop
}

// outcome returns the latest outcome of an event, or nil.
func (h *harness) outcome(ctx context.Context, orgID string, source envelope.Source, eventID string) *envelope.Outcome {
	return jstest.Outcome(ctx, h.t, h.js, h.streams, orgID, eventID)
}

// finalOutcome waits up to within for an event's final outcome.
func (h *harness) finalOutcome(orgID string, source envelope.Source, eventID string, within time.Duration) *envelope.Outcome {
	h.t.Helper()
	return jstest.FinalOutcome(h.t, h.js, h.streams, orgID, eventID, within)
}

// undelivered returns the dead-letter message of an event, or nil.
func (h *harness) undelivered(ctx context.Context, orgID string, source envelope.Source, eventID string) *jetstream.RawStreamMsg {
	raw, err := h.res.Undelivered.GetLastMsgForSubject(ctx, h.streams.UndeliveredSubject(orgID, source, eventID))
	if err != nil {
		return nil
	}
	return raw
}

// pending returns how many messages WEBHOOKS still holds.
func (h *harness) pending(ctx context.Context) uint64 {
	info, err := h.res.Deliver.Info(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return info.State.Msgs
}

// received is one request a receiver got.
type received struct {
	at     time.Time
	header http.Header
	body   []byte
}

// receiver is an httptest server that records every request and answers
// with respond (204 when nil).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	respond func(n int, r *http.Request) int
}

func newReceiver(t *testing.T, respond func(n int, r *http.Request) int) *receiver {
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{at: time.Now(), header: r.Header.Clone(), body: body})
		n := len(rc.got)
		rc.mu.Unlock()
		code := http.StatusNoContent
		if rc.respond != nil {
			code = rc.respond(n, r)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

// jobResult is a valid completed job.
func jobResult(taskID string) envelope.JobResult {
	return envelope.JobResult{TaskID: taskID, Status: envelope.StatusCompleted, TaskType: "find_email",
		Result: []byte(`{"email":[["john.doe@acme.com","OK"]]}`)}
}

// workflowRun is a valid workflow run.
func workflowRun(runID string) envelope.WorkflowRun {
	return envelope.WorkflowRun{WorkflowID: "wf_abc123", RunID: runID, RowCount: 1, PreviousBlockID: "blk_2",
		PreviousBlockName: "lead_enrichment", PreviousBlockNumber: 2, Results: []byte(`[{"name":"John Doe"}]`)}
}

// streamsConfig is the streams config of a test: short AckWait so that a
// killed deliverer's messages come back quickly.
func streamsConfig() streams.Config {
	return streams.Config{AckWait: 3 * time.Second}
}

// splitPort returns the host and port of a listener address.
func splitPort(addr string) (string, string) {
	i := strings.LastIndex(addr, ":")
	return addr[:i], addr[i+1:]
}

// contextWithCancel is context.WithCancel, named for readability in tests.
func contextWithCancel(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithCancel(ctx)
}

// finalCount returns how many of ids have a delivered final state on the
// attempt stream (one read of the whole stream).
func (h *harness) finalCount(ctx context.Context, ids []string) int {
	all := jstest.AllRecords(ctx, h.t, h.js, h.streams)
	n := 0
	for _, id := range ids {
		if o := envelope.OutcomeOf(all[id]); o != nil && o.Success {
			n++
		}
	}
	return n
}
