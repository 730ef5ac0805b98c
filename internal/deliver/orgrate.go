package deliver

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/sixtyfour-oss/webhooks/pkg/retry"
)

// orgRates paces the attempts of each organization in this process to a
// rate with a burst (Config.OrgRate, OrgBurst): one token bucket per
// organization, made when the organization first needs one. A bucket that
// has refilled to its burst is the same as a new one, so those are
// dropped every orgRateSweep: the map holds the organizations sending
// lately, not every one ever seen.
type orgRates struct {
	limit rate.Limit
	burst int

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	lastSweep time.Time
}

// orgRateSweep is how often full buckets are dropped.
const orgRateSweep = time.Minute

func newOrgRates(perSecond float64, burst int) *orgRates {
	return &orgRates{limit: rate.Limit(perSecond), burst: burst, buckets: map[string]*rate.Limiter{}}
}

// defaultOrgBurst is the burst of a rate without one: one second's worth,
// at least 1.
func defaultOrgBurst(perSecond float64) int {
	return max(1, int(math.Ceil(perSecond)))
}

// reserve takes orgID's next token at now and returns how long to wait
// before the attempt, and a func that gives the token back at a time
// (when the attempt does not happen after all).
func (r *orgRates) reserve(orgID string, now time.Time) (wait time.Duration, cancel func(at time.Time)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.lastSweep) >= orgRateSweep {
		for id, b := range r.buckets {
			if b.TokensAt(now) >= float64(r.burst) {
				delete(r.buckets, id)
			}
		}
		r.lastSweep = now
	}
	b := r.buckets[orgID]
	if b == nil {
		b = rate.NewLimiter(r.limit, r.burst)
		r.buckets[orgID] = b
	}
	res := b.ReserveN(now, 1) // always OK: the burst is at least 1
	return res.DelayFrom(now), res.CancelAt
}

// orgPace waits, when OrgRate paces organizations, until ev's
// organization may start its next attempt. It waits in the waiting room
// without holding a worker slot, as a message for a busy host does (see
// slot), and returns ctx's error when ctx ends first.
func (d *Deliverer) orgPace(ctx context.Context, ev event) error {
	if d.rates == nil {
		return nil
	}
	wait, cancel := d.rates.reserve(ev.orgID, d.cfg.Now())
	if wait <= 0 {
		return nil
	}
	return d.inRoom(ev, func() error {
		if !retry.Pause(ctx, wait) {
			cancel(d.cfg.Now())
			return ctx.Err()
		}
		return nil
	})
}
