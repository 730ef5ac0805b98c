package undelivered

import (
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// fixture is four dead letters across two organizations, both sources,
// two event types and two hosts, stored in the order a1, a2, b1, b2.
type fixture struct {
	a1, a2, b1, b2 *envelope.Request
	stored         map[string]time.Time
}

func (e *env) fixture() fixture {
	e.t.Helper()
	var fx fixture
	fx.a1, _ = e.deadLetter(event{org: "org_a", taskType: "find_email", host: "a.example.com"})
	fx.a2, _ = e.deadLetter(event{org: "org_a", workflow: true, host: "b.example.com"})
	fx.b1, _ = e.deadLetter(event{org: "org_b", taskType: "find_phone", host: "a.example.com"})
	fx.b2, _ = e.deadLetter(event{org: "org_b", taskType: "find_email", host: "b.example.com"})
	entries, err := List(e.ctx, e.js, e.sc, Filter{}, 0)
	if err != nil || len(entries) != 4 {
		e.t.Fatalf("fixture: List = %d entries, %v; want 4", len(entries), err)
	}
	fx.stored = map[string]time.Time{}
	for _, en := range entries {
		fx.stored[en.EventID()] = en.StoredAt
	}
	return fx
}

// filterCase is one selection and the events it must select.
type filterCase struct {
	name string
	f    Filter
	want []string
}

// cases returns a case for each filter field and a few combinations.
func (fx fixture) cases() []filterCase {
	at := func(r *envelope.Request) time.Time { return fx.stored[r.EventID] }
	return []filterCase{
		{"everything", Filter{}, ids(fx.a1, fx.a2, fx.b1, fx.b2)},
		{"org", Filter{OrgID: "org_a"}, ids(fx.a1, fx.a2)},
		{"source", Filter{Source: "job"}, ids(fx.a1, fx.b1, fx.b2)},
		{"event type", Filter{EventType: "find_email"}, ids(fx.a1, fx.b2)},
		{"workflow event type", Filter{EventType: envelope.WorkflowEventType}, ids(fx.a2)},
		{"host, any case", Filter{Host: "A.Example.COM"}, ids(fx.a1, fx.b1)},
		{"event ids", Filter{EventIDs: []string{fx.a2.EventID, fx.b2.EventID}}, ids(fx.a2, fx.b2)},
		{"event ids and org", Filter{OrgID: "org_b", EventIDs: []string{fx.a2.EventID, fx.b2.EventID}}, ids(fx.b2)},
		{"since", Filter{Since: at(fx.b1)}, ids(fx.b1, fx.b2)},
		{"until", Filter{Until: at(fx.a2)}, ids(fx.a1, fx.a2)},
		{"since and until", Filter{Since: at(fx.a2), Until: at(fx.b1)}, ids(fx.a2, fx.b1)},
		{"org, source, type and host", Filter{OrgID: "org_b", Source: "job", EventType: "find_email", Host: "b.example.com"}, ids(fx.b2)},
		{"no match", Filter{OrgID: "org_c"}, ids()},
		{"unknown id", Filter{EventIDs: []string{"00000000-0000-4000-8000-000000000000"}}, ids()},
	}
}
