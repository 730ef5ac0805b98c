package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// hostAttempt returns attempt n of a round of event (org, id) to host that
// started at started (queued n minutes before), took ms milliseconds when
// sent, and ended in decision with HTTP status.
func hostAttempt(org, id, host string, n int, started time.Time, decision string, status int, ms float64) *envelope.AttemptRecord {
	base := Record(org, id, started.Add(-time.Duration(n)*time.Minute))
	base.Host = host
	r := attempt(base, 0, n, decision, status)
	r.StartedAt, r.FinishedAt = logstore.Truncate(started), logstore.Truncate(started).Add(time.Duration(ms*1000)*time.Microsecond)
	r.DurationMS = ms
	return r
}

// refused returns r as an attempt that sent nothing, with error class
// class and error text msg.
func refused(r *envelope.AttemptRecord, class, msg string) *envelope.AttemptRecord {
	r.Sent, r.StatusCode, r.DurationMS, r.ResponseExcerpt, r.FinishedAt = false, 0, 0, "", r.StartedAt
	r.ErrorClass, r.Error = class, msg
	r.SetBlockColumns()
	return r
}

// circuitOpen is the error of an attempt an open circuit refused, as the
// deliverer writes it.
func circuitOpen(host string) string {
	return "connection error: circuit open for host " + host + " after 7 consecutive failures; nothing sent (next probe in 12.5s)"
}

// testHosts: the statistics per host of the attempts started in the
// window, slowest first, per organization or all; the circuit-open,
// failure and duration figures; the window's bounds; the limit.
func testHosts(t *testing.T, s suite) {
	st := s.store(t)
	from, to := fixedNow().Add(-10*time.Hour), fixedNow().Add(-4*time.Hour)
	in := from.Add(time.Hour)
	const a, b = "org-ha", "org-hb"
	write(t, st,
		// slow: 2 sent (900, 1100 ms), one a failure.
		hostAttempt(a, "h-slow-1", "slow.example.com", 1, in, retry, 503, 900),
		hostAttempt(a, "h-slow-1", "slow.example.com", 2, in.Add(time.Hour), delivered, 200, 1100),
		// fast: 3 sent (10, 20, 30 ms), then 2 refused by the open circuit
		// (one on the last attempt, its reason prefixed).
		hostAttempt(a, "h-fast-1", "fast.example.com", 1, in, delivered, 200, 10),
		hostAttempt(a, "h-fast-2", "fast.example.com", 1, in.Add(time.Minute), delivered, 204, 20),
		hostAttempt(a, "h-fast-3", "fast.example.com", 1, in.Add(2*time.Minute), delivered, 200, 30),
		refused(hostAttempt(a, "h-fast-4", "fast.example.com", 1, in.Add(3*time.Hour), retry, 0, 0),
			"connection", circuitOpen("fast.example.com")),
		refused(hostAttempt(a, "h-fast-5", "fast.example.com", 6, in.Add(4*time.Hour), undelivered, 0, 0),
			"connection", "attempts exhausted after 6 attempts: "+circuitOpen("fast.example.com")),
		// mid: at the window's bounds (from in, to - 1µs in, to out, before
		// from out); a sent connection error, and a refusal that is not
		// the circuit's. Its average ties with tie.example.com's.
		hostAttempt(a, "h-mid-1", "mid.example.com", 1, from, delivered, 200, 400),
		hostAttempt(a, "h-mid-2", "mid.example.com", 1, to.Add(-time.Microsecond), retry, 0, 600),
		hostAttempt(a, "h-mid-3", "mid.example.com", 1, to, delivered, 200, 90_000),
		hostAttempt(a, "h-mid-4", "mid.example.com", 1, from.Add(-time.Microsecond), delivered, 200, 90_000),
		refused(hostAttempt(a, "h-mid-5", "mid.example.com", 1, in, retry, 0, 0),
			"signing_unavailable", "signing secret unavailable, nothing sent: no usable secret"),
		hostAttempt(a, "h-tie-1", "tie.example.com", 1, in, delivered, 200, 500),
		// dark: nothing sent, so no duration: last.
		refused(hostAttempt(a, "h-dark-1", "dark.example.com", 1, in, retry, 0, 0),
			"connection", circuitOpen("dark.example.com")),
		// another organization's host, slower than all.
		hostAttempt(b, "h-other-1", "other.example.com", 1, in, delivered, 200, 5000),
		// An attempt without a host (a request that could not be decoded).
		refused(hostAttempt(a, "h-nohost-1", "", 1, in, undelivered, 0, 0), "invalid_request", "invalid delivery request"),
	)
	hostStat := func(host string, attempts, failures, circuit int64, avg, max float64, last time.Time) logstore.HostStat {
		return logstore.HostStat{Host: host, Attempts: attempts, Failures: failures, CircuitOpen: circuit,
			AvgDurationMS: avg, MaxDurationMS: max, LastAttemptAt: logstore.Truncate(last)}
	}
	var (
		slow  = hostStat("slow.example.com", 2, 1, 0, 1000, 1100, in.Add(time.Hour))
		mid   = hostStat("mid.example.com", 3, 2, 0, 500, 600, to.Add(-time.Microsecond))
		tie   = hostStat("tie.example.com", 1, 0, 0, 500, 500, in)
		fast  = hostStat("fast.example.com", 5, 2, 2, 20, 30, in.Add(4*time.Hour))
		dark  = hostStat("dark.example.com", 1, 1, 1, 0, 0, in)
		other = hostStat("other.example.com", 1, 0, 0, 5000, 5000, in)
	)
	for _, tc := range []struct {
		name     string
		org      string
		from, to time.Time
		limit    int
		want     []logstore.HostStat
	}{
		{"one organization", a, from, to, 0, []logstore.HostStat{slow, mid, tie, fast, dark}},
		{"every organization", "", from, to, 0, []logstore.HostStat{other, slow, mid, tie, fast, dark}},
		{"the other organization", b, from, to, 0, []logstore.HostStat{other}},
		{"limit", a, from, to, 2, []logstore.HostStat{slow, mid}},
		{"limit, every organization", "", from, to, 1, []logstore.HostStat{other}},
		{"one microsecond wider", a, from, to.Add(time.Microsecond), 3,
			[]logstore.HostStat{hostStat("mid.example.com", 4, 2, 0, (400+600+90_000)/3.0, 90_000, to), slow, tie}},
		{"from open", a, time.Time{}, to, 1,
			[]logstore.HostStat{hostStat("mid.example.com", 4, 2, 0, (90_000+400+600)/3.0, 90_000, to.Add(-time.Microsecond))}},
		{"the circuit's last hours", a, in.Add(3 * time.Hour), to, 0,
			[]logstore.HostStat{hostStat("mid.example.com", 1, 1, 0, 600, 600, to.Add(-time.Microsecond)),
				hostStat("fast.example.com", 2, 2, 2, 0, 0, in.Add(4*time.Hour))}},
		{"an empty window", a, allFrom(), allFrom().Add(time.Hour), 0, []logstore.HostStat{}},
		{"an unknown organization", "org-none", from, to, 0, []logstore.HostStat{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := st.Hosts(t.Context(), tc.org, tc.from, tc.to, tc.limit)
			if err != nil {
				t.Fatalf("Hosts: %v", err)
			}
			if got == nil {
				t.Errorf("Hosts = nil, want a slice")
			}
			checkEqual(t, fmt.Sprintf("Hosts(%q, %s, %s, %d)", tc.org, tc.from, tc.to, tc.limit), got, tc.want)
		})
	}
	for _, tc := range []struct {
		name     string
		org      string
		from, to time.Time
		limit    int
		fields   []string
	}{
		{"limit above the maximum", a, from, to, logstore.MaxHostsLimit + 1, []string{"limit"}},
		{"negative limit", a, from, to, -1, []string{"limit"}},
		{"to before from", a, to, from, 0, []string{"to"}},
		{"empty window", a, from, from, 0, []string{"to"}},
		{"bad organization and limit", "org a", from, to, 1000, []string{"org_id", "limit"}},
	} {
		_, err := st.Hosts(t.Context(), tc.org, tc.from, tc.to, tc.limit)
		checkQueryError(t, "Hosts("+tc.name+")", err, tc.fields...)
	}
	if got, err := st.Hosts(t.Context(), a, from, to, logstore.MaxHostsLimit); err != nil || len(got) != 5 {
		t.Errorf("Hosts(limit %d) = %d hosts, %v; want 5, nil", logstore.MaxHostsLimit, len(got), err)
	}
}
