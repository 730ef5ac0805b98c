package hostile

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// poisonKind is one kind of message the deliverer cannot deliver, and the
// reason its dead letter must give.
type poisonKind struct {
	name   string
	source envelope.Source // subject token it is published under
	data   func(t *testing.T, url string) []byte
	reason string
}

// encoded builds a delivery request for url, lets mutate break it, and
// returns its JSON form (Encode does not validate).
func encoded(t *testing.T, url string, mutate func(r *envelope.Request)) []byte {
	t.Helper()
	r, err := envelope.NewWorkflowRequest(time.Now(), "org_mix", url, workflowRun("run_poison"), envelope.Block{TimeoutSeconds: 2})
	if err != nil {
		t.Fatal(err)
	}
	mutate(r)
	data, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func raw(s string) func(*testing.T, string) []byte {
	return func(*testing.T, string) []byte { return []byte(s) }
}

var poisonKinds = []poisonKind{
	{"not JSON", envelope.SourceJob, raw("{not json"), "malformed"},
	{"binary", envelope.SourceJob, raw("\x00\xff\xfe\x01garbage"), "malformed"},
	{"JSON array", envelope.SourceWorkflow, raw(`[{"v":1}]`), "malformed"},
	{"unknown version", envelope.SourceJob, raw(`{"v":9,"event_id":"x"}`), "unknown delivery request version"},
	{"missing fields", envelope.SourceJob, raw(`{"v":1,"org_id":"org_mix"}`), "event_id: required"},
	{"unknown field", envelope.SourceWorkflow, func(t *testing.T, url string) []byte {
		return []byte(strings.Replace(string(encoded(t, url, func(*envelope.Request) {})), `{"v":1,`, `{"v":1,"surprise":true,`, 1))
	}, "unknown field"},
	{"data after the object", envelope.SourceWorkflow, func(t *testing.T, url string) []byte {
		return append(encoded(t, url, func(*envelope.Request) {}), " {}"...)
	}, "data after the JSON value"},
	{"another org's request", envelope.SourceWorkflow, func(t *testing.T, url string) []byte {
		return encoded(t, url, func(r *envelope.Request) { r.OrgID = "org_other" })
	}, "published on subject"},
	{"header injection", envelope.SourceWorkflow, func(t *testing.T, url string) []byte {
		return encoded(t, url, func(r *envelope.Request) { r.Headers = map[string]string{"X-Note": "a\r\nX-Injected: 1"} })
	}, "value contains CR, LF or NUL"},
	{"reserved header", envelope.SourceWorkflow, func(t *testing.T, url string) []byte {
		return encoded(t, url, func(r *envelope.Request) { r.Headers = map[string]string{"Sixtyfour-Signature": "t=1,v1=forged"} })
	}, "cannot be overridden"},
}

// TestPoisonAmidValidMessages interleaves 50 poison messages with 200 valid
// events on one stream: the deliverer must dead-letter every poison message
// with its reason after one attempt, deliver every valid event exactly
// once, and never stop.
func TestPoisonAmidValidMessages(t *testing.T) {
	const valid, poison = 200, 50
	ignore := goleak.IgnoreCurrent()
	p := newPipeline(t, hostileSchedule)
	good := newHealthy(t)
	ctx := jstest.Context(t, 30*time.Second)

	validIDs := make(map[string]time.Time, valid)
	kindOf := make(map[string]poisonKind, poison)
	sent := make(map[string][]byte, poison)
	for i := range valid + poison {
		var msg *nats.Msg
		if i%5 == 0 {
			n := i / 5
			kind := poisonKinds[n%len(poisonKinds)]
			id := "poison-" + strconv.Itoa(n)
			kindOf[id] = kind
			msg = nats.NewMsg(p.streams.DeliverSubject("org_mix", kind.source))
			msg.Data = kind.data(t, good.URL)
			sent[id] = msg.Data
			msg.Header.Set(nats.MsgIdHdr, id)
		} else {
			r, err := envelope.NewJobRequest(time.Now(), "org_mix", good.URL, jobResult("valid_"+strconv.Itoa(i)))
			if err != nil {
				t.Fatal(err)
			}
			data, err := r.Encode()
			if err != nil {
				t.Fatal(err)
			}
			msg = nats.NewMsg(p.streams.DeliverSubject("org_mix", envelope.SourceJob))
			msg.Data = data
			msg.Header.Set(nats.MsgIdHdr, r.EventID)
			validIDs[r.EventID] = time.Now()
		}
		if _, err := p.js.PublishMsg(ctx, msg); err != nil {
			t.Fatalf("publish message %d: %v", i, err)
		}
	}
	if len(validIDs) != valid || len(kindOf) != poison {
		t.Fatalf("published %d valid and %d poison messages, want %d and %d", len(validIDs), len(kindOf), valid, poison)
	}

	checkHealthyTraffic(t, good, validIDs)
	for id, kind := range kindOf {
		checkDeadLettered(t, p, id, kind, sent[id])
	}
	jstest.Eventually(t, 5*time.Second, func() bool { return p.pending(ctx) == 0 }, "WEBHOOKS drained")
	if count, _ := good.arrivals(); len(count) != valid {
		t.Errorf("the receiver got %d distinct events, want the %d valid ones only", len(count), valid)
	}

	p.shutdown()
	good.Close()
	goleak.VerifyNone(t, ignore)
}

// checkDeadLettered waits for a poison message's dead letter and checks that
// it holds the message unchanged, with its failure record.
func checkDeadLettered(t *testing.T, p *pipeline, id string, kind poisonKind, data []byte) {
	t.Helper()
	ctx := jstest.Context(t, 10*time.Second)
	subject := p.streams.UndeliveredSubject("org_mix", kind.source, id)
	var failure *envelope.Outcome
	jstest.Eventually(t, 5*time.Second, func() bool {
		m, err := p.res.Undelivered.GetLastMsgForSubject(ctx, subject)
		if err != nil {
			return false
		}
		if string(m.Data) != string(data) {
			t.Errorf("%s (%s): dead letter body %q, want the unchanged %q", id, kind.name, m.Data, data)
		}
		failure, err = envelope.DecodeOutcome([]byte(m.Header.Get(envelope.HeaderFailure)))
		if err != nil {
			t.Fatalf("%s (%s): failure record: %v", id, kind.name, err)
		}
		return true
	}, "dead letter of %s (%s)", id, kind.name)
	if failure.State != envelope.StateUndelivered || failure.Attempts != 1 ||
		!strings.Contains(failure.Error, "invalid delivery request") || !strings.Contains(failure.Error, kind.reason) {
		t.Errorf("%s (%s): failure record state %s, attempts %d, error %q; want undelivered after 1 attempt, error containing %q",
			id, kind.name, failure.State, failure.Attempts, failure.Error, kind.reason)
	}
}
