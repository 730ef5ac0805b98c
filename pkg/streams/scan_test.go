package streams_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// scanStream makes a stream SCAN with n messages on scan.<i>.
func scanStream(t *testing.T, n int) (jetstream.JetStream, jetstream.Stream) {
	t.Helper()
	_, js := jstest.Connect(t, jstest.Server(t))
	ctx := jstest.Context(t, 10*time.Second)
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "SCAN", Subjects: []string{"scan.>"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := js.Publish(ctx, "scan."+strconv.Itoa(i), []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Info(ctx); err != nil { // refresh the cached state
		t.Fatal(err)
	}
	return js, st
}

func TestScanReadsUpToTheStartAndSkipsDeleted(t *testing.T) {
	js, st := scanStream(t, 50)
	ctx := jstest.Context(t, 10*time.Second)
	var got []string
	err := streams.Scan(ctx, st, jetstream.OrderedConsumerConfig{}, 7, func(msg jetstream.Msg, meta *jetstream.MsgMetadata) bool {
		got = append(got, string(msg.Data()))
		if meta.Sequence.Stream == 10 {
			// Deleted (after the batch in hand, 8..14) and added while the
			// scan runs: neither is seen.
			for seq := uint64(15); seq <= 30; seq++ {
				if err := st.DeleteMsg(ctx, seq); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := js.Publish(ctx, "scan.late", []byte("late")); err != nil {
				t.Fatal(err)
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 34 || got[13] != "13" || got[14] != "30" || got[33] != "49" {
		t.Errorf("scanned %d messages %v; want 0..13 and 30..49", len(got), got)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 0 {
		t.Errorf("%d consumers left after the scan", info.State.Consumers)
	}
}

func TestScanStopsWhenYieldSaysSo(t *testing.T) {
	_, st := scanStream(t, 20)
	n := 0
	err := streams.Scan(context.Background(), st, jetstream.OrderedConsumerConfig{}, 4, func(jetstream.Msg, *jetstream.MsgMetadata) bool {
		n++
		return n < 5
	})
	if err != nil || n != 5 {
		t.Errorf("Scan = %v after %d messages; want nil after 5", err, n)
	}
}
