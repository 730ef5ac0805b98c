package hostile

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
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

// loopback is the unsafe allow-list the tests need to reach their receivers.
// Every receiver of this package listens on 127.0.0.0/8 and nowhere else.
var loopback = egress.Policy{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}

// httpOK lets the deliverer and publisher accept plain-http loopback URLs.
var httpOK = envelope.URLPolicy{AllowHTTP: true}

// pipeline is one test's delivery pipeline: a real JetStream server with the
// pipeline's streams, a publisher and one real deliverer whose per-attempt
// log lines are captured in attempts.
type pipeline struct {
	t        *testing.T
	srv      *server.Server
	nc       *nats.Conn
	js       jetstream.JetStream
	streams  streams.Config
	res      *streams.Resources
	pub      *publish.Publisher
	client   *http.Client
	attempts *attemptLog

	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

// newPipeline starts the server, the streams and a deliverer retrying on
// schedule. Everything is stopped when the test ends, or earlier by shutdown.
func newPipeline(t *testing.T, schedule retry.Schedule) *pipeline {
	t.Helper()
	srv := jstest.Server(t)
	nc, js := jstest.Connect(t, srv)
	sc := streams.Config{AckWait: 5 * time.Second}.WithDefaults()
	res, err := streams.Ensure(jstest.Context(t, 10*time.Second), js, sc)
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{
		t: t, srv: srv, nc: nc, js: js, streams: sc, res: res,
		pub:      publish.New(js, publish.Config{Streams: sc, URLs: httpOK, Destinations: loopback}),
		client:   egress.NewClient(loopback, egress.ClientConfig{}),
		attempts: &attemptLog{},
		done:     make(chan struct{}),
	}
	logger := zerolog.New(p.attempts).Level(zerolog.InfoLevel)
	cfg := deliver.Config{
		Streams: sc, Policy: retry.Policy{Schedule: schedule}, URLs: httpOK,
		ShutdownTimeout: 5 * time.Second, Logger: &logger,
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := deliver.New(ctx, js, p.client, nil, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	p.cancel = cancel
	go func() {
		defer close(p.done)
		if err := d.Run(ctx); err != nil {
			t.Errorf("deliverer Run: %v", err)
		}
	}()
	t.Cleanup(p.stop)
	return p
}

// stop stops the deliverer, waits for Run to return and closes the HTTP
// client's idle connections. It is idempotent.
func (p *pipeline) stop() {
	p.stopOnce.Do(func() {
		p.cancel()
		<-p.done
		p.client.CloseIdleConnections()
	})
}

// shutdown stops the deliverer, then the NATS connection and the server, so
// that a goroutine-leak check can follow in the test body.
func (p *pipeline) shutdown() {
	p.stop()
	p.nc.Close()
	p.srv.Shutdown()
	p.srv.WaitForShutdown()
}

// outcome returns the latest outcome of an event, or nil.
func (p *pipeline) outcome(ctx context.Context, orgID string, source envelope.Source, eventID string) *envelope.Outcome {
	return jstest.Outcome(ctx, p.t, p.js, p.streams, orgID, eventID)
}

// finalOutcome waits up to within for an event's final outcome.
func (p *pipeline) finalOutcome(orgID string, source envelope.Source, eventID string, within time.Duration) *envelope.Outcome {
	p.t.Helper()
	return jstest.FinalOutcome(p.t, p.js, p.streams, orgID, eventID, within)
}

// pending returns how many messages WEBHOOKS still holds.
func (p *pipeline) pending(ctx context.Context) uint64 {
	info, err := p.res.Deliver.Info(ctx)
	if err != nil {
		p.t.Fatal(err)
	}
	return info.State.Msgs
}

// attemptLine is the deliverer's one log line per attempt, with its fixed keys.
type attemptLine struct {
	Message    string `json:"message"`
	EventID    string `json:"event_id"`
	Attempt    int    `json:"attempt"`
	Status     int    `json:"status"`
	DurationMS int64  `json:"duration_ms"`
	Decision   string `json:"decision"`
	Reason     string `json:"reason"`
}

// attemptLog is the deliverer's log writer: it keeps the attempt lines.
// zerolog calls Write once per line and reuses the buffer afterwards, so the
// line is parsed inside Write.
type attemptLog struct {
	mu    sync.Mutex
	lines []attemptLine
}

func (l *attemptLog) Write(b []byte) (int, error) {
	var line attemptLine
	if err := json.Unmarshal(b, &line); err == nil && line.Message == "attempt" {
		l.mu.Lock()
		l.lines = append(l.lines, line)
		l.mu.Unlock()
	}
	return len(b), nil
}

// of returns the attempt lines of one event, in the order they were logged.
func (l *attemptLog) of(eventID string) []attemptLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []attemptLine
	for _, line := range l.lines {
		if line.EventID == eventID {
			out = append(out, line)
		}
	}
	return out
}

// healthy is a well-behaved receiver: it answers 204 at once and records
// when each event arrived.
type healthy struct {
	*httptest.Server
	mu      sync.Mutex
	arrived map[string][]time.Time // event id -> arrival of each attempt
}

func newHealthy(t *testing.T) *healthy {
	h := &healthy{arrived: make(map[string][]time.Time)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		id := r.Header.Get(deliver.HeaderEventID)
		h.arrived[id] = append(h.arrived[id], time.Now())
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.Close)
	return h
}

// arrivals returns how many times each event arrived and when it first did.
func (h *healthy) arrivals() (count map[string]int, first map[string]time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	count, first = make(map[string]int, len(h.arrived)), make(map[string]time.Time, len(h.arrived))
	for id, at := range h.arrived {
		count[id], first[id] = len(at), at[0]
	}
	return count, first
}

// jobResult is a valid completed job.
func jobResult(taskID string) envelope.JobResult {
	return envelope.JobResult{TaskID: taskID, Status: envelope.StatusCompleted, TaskType: "find_email",
		Result: []byte(`{"email":[["john.doe@acme.com","OK"]]}`)}
}

// workflowRun is a valid workflow run.
func workflowRun(runID string) envelope.WorkflowRun {
	return envelope.WorkflowRun{WorkflowID: "wf_hostile", RunID: runID, RowCount: 1, PreviousBlockID: "blk_2",
		PreviousBlockName: "lead_enrichment", PreviousBlockNumber: 2, Results: []byte(`[{"name":"John Doe"}]`)}
}
