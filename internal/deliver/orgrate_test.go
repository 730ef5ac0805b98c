package deliver

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
)

// With OrgRate set, one organization's attempts never run ahead of its
// token bucket (its burst at once, then one every 1/rate), measured at
// its receiver, and another organization's events go through meanwhile
// without waiting behind the paced ones.
func TestOrgRatePacesOneOrganization(t *testing.T) {
	t.Parallel()
	const perSecond, burst, events, others = 20.0, 2, 12, 5
	h := newHarness(t, streamsConfig())
	paced := newReceiver(t, nil)
	other := newReceiver(t, nil)
	h.start(Config{OrgRate: perSecond, OrgBurst: burst}, nil)
	ctx := jstest.Context(t, 30*time.Second)
	for i := range events {
		if _, err := h.pub.PublishJob(ctx, "org_paced", paced.URL, jobResult(fmt.Sprintf("paced-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range others {
		if _, err := h.pub.PublishJob(ctx, "org_other", other.URL, jobResult(fmt.Sprintf("other-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	jstest.Eventually(t, 10*time.Second, func() bool { return other.count() == others }, "org_other's events delivered")
	if n := paced.count(); n >= events {
		t.Errorf("org_other's events arrived after all %d of org_paced's: they waited behind the pace", n)
	}
	jstest.Eventually(t, 10*time.Second, func() bool { return paced.count() == events }, "org_paced's events delivered")
	got := paced.requests()
	// Token burst+j is there 1/rate·(j+1) after the first attempt at the
	// soonest; 25 ms of slack for the first request's own latency.
	const slack = 25 * time.Millisecond
	for i := burst; i < len(got); i++ {
		soonest := time.Duration(float64(i-burst+1) / perSecond * float64(time.Second))
		if at := got[i].at.Sub(got[0].at); at < soonest-slack {
			t.Errorf("request %d arrived %v after the first, before its token (%v)", i, at, soonest)
		}
	}
	span := got[len(got)-1].at.Sub(got[0].at).Seconds()
	t.Logf("%d paced requests over %.2f s: %.1f/s after a burst of %d (pace %.0f/s)", len(got), span, float64(len(got)-burst)/span, burst, perSecond)
}

// A negative, NaN or infinite pace, or a negative burst, is refused.
func TestOrgRateInvalidRefused(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{{OrgRate: -1}, {OrgRate: math.NaN()}, {OrgRate: math.Inf(1)}, {OrgRate: 5, OrgBurst: -1}} {
		if err := c.withDefaults().validate(); err == nil {
			t.Errorf("OrgRate %v, OrgBurst %d accepted", c.OrgRate, c.OrgBurst)
		}
	}
}

// A bucket that has refilled is dropped at the next sweep; one in use is
// kept.
func TestOrgRateBucketsAreSwept(t *testing.T) {
	t.Parallel()
	r := newOrgRates(10, 1)
	t0 := time.Unix(1_700_000_000, 0)
	r.reserve("org_quiet", t0)
	r.reserve("org_busy", t0)
	later := t0.Add(orgRateSweep)
	r.reserve("org_busy", later) // the sweep runs first: both refilled, both dropped; busy made anew
	r.reserve("org_busy", later) // busy is now behind its bucket
	if _, ok := r.buckets["org_quiet"]; ok {
		t.Error("org_quiet's full bucket kept after the sweep")
	}
	r.reserve("org_other", later.Add(orgRateSweep/2))
	if len(r.buckets) != 2 {
		t.Errorf("%d buckets, want 2 (org_busy, org_other)", len(r.buckets))
	}
	if wait, _ := r.reserve("org_busy", later); wait <= 0 {
		t.Errorf("org_busy's third attempt at once waits %v, want > 0", wait)
	}
}
