package status

import (
	"errors"
	"testing"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// TestLookupBeforeTheStreamsExist looks up events on a server where no
// process has created the streams yet: they hold nothing, which is not an
// error.
func TestLookupBeforeTheStreamsExist(t *testing.T) {
	e := newBareEnv(t)
	o := e.outcome("org_a", "task_1", "", envelope.StateUndelivered)
	e.write(o)

	got, err := Lookup(e.ctx, e.store, e.js, e.sc, Query{EventID: o.EventID})
	if err != nil || len(got) != 1 || got[0].EventID != o.EventID || got[0].InUndelivered || got[0].ReplayQueued {
		t.Errorf("Lookup of a logged event = %+v, %v; want it, not in undelivered", got, err)
	}
	_, err = Lookup(e.ctx, e.store, e.js, e.sc, Query{EventID: "00000000-0000-4000-8000-000000000000"})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup of an unknown event: error = %v, want ErrNotFound", err)
	}
}
