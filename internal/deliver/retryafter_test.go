package deliver

import (
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/attemptlog"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
)

// TestRetryAfterValues: seconds and the three HTTP date forms are waits;
// negative, fractional, garbage and past values are none (the schedule
// applies); a number too large for a duration is the largest one.
func TestRetryAfterValues(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"30", 30 * time.Second},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"1000000000", 1e9 * time.Second},
		{"99999999999999999999999", time.Duration(math.MaxInt64)},
		{"-5", 0},
		{"1.5", 0},
		{"30s", 0},
		{"soon", 0},
		{"Sun, 06 Dec 2026 12:01:30 GMT", 90 * time.Second},  // IMF-fixdate
		{"Sunday, 06-Dec-26 12:00:10 GMT", 10 * time.Second}, // RFC 850
		{"Sun Dec  6 12:00:05 2026", 5 * time.Second},        // asctime
		{"Sun, 06 Dec 2026 11:59:00 GMT", 0},                 // past
		{"Sun, 06 Dec 2026 25:00:00 GMT", 0},                 // no such time
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.value != "" {
			h.Set("Retry-After", tt.value)
		}
		if got := retryAfter(h, now); got != tt.want {
			t.Errorf("Retry-After %q = %v, want %v", tt.value, got, tt.want)
		}
	}
}

// TestRetryAfterGapsOnReceiver: a receiver answering 429 and 503 with
// Retry-After in seconds, as an HTTP date, as garbage, as 10⁹ and as a
// negative number gets its next attempts after max(schedule, min(value,
// cap)), measured where it receives them; the event still has 6 attempts
// and each attempt record says what set its delay.
func TestRetryAfterGapsOnReceiver(t *testing.T) {
	// Not parallel: it measures gaps, so the package's parallel tests run
	// after it.
	const (
		step      = 50 * time.Millisecond
		cap       = 2500 * time.Millisecond // above the HTTP date's wait, at most 2 s
		tolerance = 250 * time.Millisecond
	)
	var (
		mu   sync.Mutex
		at   []time.Time
		date time.Time // the HTTP date sent with the second answer
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		now := time.Now()
		at = append(at, now)
		n := len(at)
		mu.Unlock()
		switch n {
		case 1:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			d := now.Add(2 * time.Second).Truncate(time.Second) // 1 to 2 s ahead
			mu.Lock()
			date = d
			mu.Unlock()
			w.Header().Set("Retry-After", d.UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusTooManyRequests)
		case 3:
			w.Header().Set("Retry-After", "garbage")
			w.WriteHeader(http.StatusServiceUnavailable)
		case 4:
			w.Header().Set("Retry-After", "1000000000")
			w.WriteHeader(http.StatusTooManyRequests)
		case 5:
			w.Header().Set("Retry-After", "-3")
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(srv.Close)

	h := newHarness(t, streamsConfig())
	schedule := retry.Schedule{step, step, step, step, step}
	h.start(Config{Policy: retry.Policy{Schedule: schedule, RetryAfterCap: cap}}, nil)
	ctx := jstest.Context(t, 30*time.Second)
	receipt, err := h.pub.PublishJob(ctx, "org_1", srv.URL, jobResult("t"))
	if err != nil {
		t.Fatal(err)
	}
	o := h.finalOutcome("org_1", envelope.SourceJob, receipt.EventID, 20*time.Second)
	if o.State != envelope.StateDelivered || o.Attempts != 6 {
		t.Fatalf("outcome = %s after %d attempts, want delivered after 6", o.State, o.Attempts)
	}

	mu.Lock()
	got, dated := append([]time.Time(nil), at...), date
	mu.Unlock()
	if len(got) != 6 {
		t.Fatalf("receiver got %d attempts, want 6", len(got))
	}
	gaps := []struct {
		name string
		min  time.Duration
	}{
		{"Retry-After: 1", time.Second},
		{"Retry-After: <HTTP date>", dated.Sub(got[1])},
		{"Retry-After: garbage", step},
		{"Retry-After: 1000000000", cap},
		{"Retry-After: -3", step},
	}
	for i, g := range gaps {
		gap := got[i+1].Sub(got[i])
		// The date has whole seconds and the receiver's clock is the
		// deliverer's, so the next attempt is due at the date itself.
		if gap < g.min-10*time.Millisecond || gap > g.min+tolerance {
			t.Errorf("gap after attempt %d (%s) = %v, want %v (+%v)", i+1, g.name, gap, g.min, tolerance)
		} else {
			t.Logf("gap after attempt %d (%s) = %v (want %v)", i+1, g.name, gap.Round(time.Millisecond), g.min.Round(time.Millisecond))
		}
	}

	recs, err := attemptlog.Read(ctx, h.js, h.streams, attemptlog.Event{OrgID: "org_1", EventID: receipt.EventID})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"retry_after", "retry_after", "schedule", "retry_after_cap", "schedule", ""}
	if len(recs) != len(want) {
		t.Fatalf("%d attempt records, want %d", len(recs), len(want))
	}
	for i, r := range recs {
		if r.RetryDelayFrom != want[i] {
			t.Errorf("attempt %d: retry_delay_from = %q (delay %d ms), want %q", r.Attempt, r.RetryDelayFrom, r.RetryDelayMS, want[i])
		}
	}
	if recs[3].RetryDelayMS != cap.Milliseconds() {
		t.Errorf("attempt 4: retry_delay_ms = %d, want the cap, %d", recs[3].RetryDelayMS, cap.Milliseconds())
	}
}
