package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// testMarkers: a marker is unset until set, and setting it twice is no
// error.
func testMarkers(t *testing.T, s suite) {
	st := s.store(t)
	ctx := t.Context()
	marker := func(name string, want bool) {
		t.Helper()
		if got, err := st.Marker(ctx, name); err != nil || got != want {
			t.Errorf("Marker(%q) = %v, %v; want %v, nil", name, got, err, want)
		}
	}
	marker("import-v1", false)
	if err := st.SetMarker(ctx, "import-v1"); err != nil {
		t.Fatalf("SetMarker: %v", err)
	}
	marker("import-v1", true)
	if err := st.SetMarker(ctx, "import-v1"); err != nil {
		t.Errorf("SetMarker again: %v", err)
	}
	marker("import-v1", true)
	marker("import-v2", false)
}

// testPingAndCancel: Ping answers; a Write on a canceled context fails
// (without a panic) and stores nothing.
func testPingAndCancel(t *testing.T, s suite) {
	st := s.store(t)
	if err := st.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rec := Record("org-ping", "ping-1", fixedNow().Add(-time.Hour))
	if err := st.Write(ctx, []*envelope.AttemptRecord{rec}); err == nil {
		t.Errorf("Write with a canceled context: err = nil, want an error")
	}
	checkNotFound(t, st, "", "ping-1")
	write(t, st, rec)
	checkTimeline(t, st, timelineOf(roundOf(rec)))
}
