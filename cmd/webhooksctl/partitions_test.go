package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/embedded"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// The steps of a change from 2 to 3 partitions, as an operator runs them:
// the mapping to install, the new streams, the status of both counts, and
// retire, which keeps the old streams until they are drained.
func TestPartitionCommandsWalkARepartition(t *testing.T) {
	old := streams.Config{Partitions: 2}.WithDefaults()
	s := jstest.ServerWith(t, embedded.Config{Mappings: old.Mappings()})
	_, js := jstest.Connect(t, s)
	ctx := jstest.Context(t, 30*time.Second)
	if _, err := streams.Ensure(ctx, js, old); err != nil {
		t.Fatal(err)
	}
	// One event left on the old count's streams.
	if _, err := js.Publish(ctx, old.DeliverSubject("org_1", envelope.SourceJob), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NATS_URL", s.ClientURL())
	t.Setenv("STREAMS_PARTITIONS", "3")

	m := ctl(t, "", "partitions", "mapping").want(t, 0)
	if !strings.Contains(m.stdout, `"webhooks.deliver.*.*": "webhooks.partition.3.{{partition(3,1)}}.{{partition(24,1)}}`) {
		t.Errorf("mapping printed:\n%s", m.stdout)
	}
	e := ctl(t, "", "partitions", "ensure").want(t, 0)
	if strings.Count(e.stdout, "8 lane consumers in place") != 3 {
		t.Errorf("ensure printed:\n%s", e.stdout)
	}

	var st struct {
		Partitions int            `json:"partitions"`
		Streams    []partitionRow `json:"streams"`
	}
	out := ctl(t, "", "partitions", "status", "--json").want(t, 0)
	if err := json.Unmarshal([]byte(out.stdout), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out.stdout)
	}
	roles, held := map[string]string{}, uint64(0)
	for _, r := range st.Streams {
		roles[r.Stream] = r.Role
		if r.Role == "draining" {
			held += r.Messages
		}
	}
	if st.Partitions != 3 || len(st.Streams) != 7 || roles["WEBHOOKS_P2_1"] != "draining" || roles["WEBHOOKS_OVERFLOW"] != "overflow" || roles["WEBHOOKS_P3_2"] != "configured" || held != 1 {
		t.Errorf("status: %+v", st)
	}

	r := ctl(t, "", "partitions", "retire").want(t, 0)
	if !strings.Contains(r.stdout, "removed WEBHOOKS_P2_") || !strings.Contains(r.stdout, "kept WEBHOOKS_P2_") || !strings.Contains(r.stdout, "1 messages still to deliver") {
		t.Errorf("retire with one event left printed:\n%s", r.stdout)
	}
	// The event is delivered (taken and acked), then the last old stream goes.
	p := old.PartitionOf("org_1")
	cons, err := js.Consumer(ctx, old.PartitionStream(2, p), old.LanesOf(streams.Partition{Stream: old.PartitionStream(2, p), Of: 2, Index: p})[old.LaneOf("org_1")].Consumer)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next()
	if err != nil {
		t.Fatal(err)
	}
	if err := msg.DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
	r = ctl(t, "", "partitions", "retire").want(t, 0)
	if !strings.Contains(r.stdout, "removed WEBHOOKS_P2_") || strings.Contains(r.stdout, "kept") {
		t.Errorf("retire once drained printed:\n%s", r.stdout)
	}
	r = ctl(t, "", "partitions", "retire").want(t, 0)
	if !strings.Contains(r.stdout, "nothing to retire") {
		t.Errorf("retire with nothing left printed:\n%s", r.stdout)
	}
	ctl(t, "", "partitions", "split").want(t, 2)
}
