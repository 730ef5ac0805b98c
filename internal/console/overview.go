package console

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// Overview sizes.
const (
	// hostWindow is the window of the host statistics.
	hostWindow = time.Hour
	// hostsAsked is how many hosts the overview asks the log for.
	hostsAsked = 100
	// hostsShown is how many slowest hosts it lists.
	hostsShown = 10
)

// hostStats is the delivery log's per-host query, when the store has it.
type hostStats interface {
	Hosts(ctx context.Context, orgID string, from, to time.Time, limit int) ([]logstore.HostStat, error)
}

// stateCounts are the latest rounds per state of a window.
type stateCounts struct {
	Retrying, Delivered, Undelivered int64
}

func countsOf(m map[string]int64) stateCounts {
	return stateCounts{Retrying: m[envelope.StateRetrying], Delivered: m[envelope.StateDelivered], Undelivered: m[envelope.StateUndelivered]}
}

// overviewData is the overview page.
type overviewData struct {
	Scope             string
	AsOf              time.Time
	LastHour, LastDay stateCounts
	CountsErr         bool
	Chart             *chartView
	// Undelivered is the depth of the undelivered stream in scope.
	Undelivered    uint64
	UndeliveredErr bool
	// Lag is the deliverers' consumer (operators only).
	Lag *lagView
	// HasHosts is set when the log reports hosts.
	HasHosts     bool
	HostsErr     bool
	Slowest      []logstore.HostStat
	OpenCircuits []logstore.HostStat
}

// lagView is the deliverers' consumer backlog.
type lagView struct {
	Pending, AckPending uint64
	Err                 bool
}

// overview shows the state of deliveries in the principal's scope. A part
// that cannot be read says so; the others are still shown.
func (c *console) overview(w http.ResponseWriter, r *http.Request, v *viewer) {
	org, ok := v.P.OrgFilter("")
	if !ok {
		c.notFound(w, r, v)
		return
	}
	ctx, now := r.Context(), c.now().UTC()
	data := overviewData{Scope: "every organization", AsOf: now}
	if org != "" {
		data.Scope = "organization " + org
	}
	hour, err1 := c.cfg.Log.Counts(ctx, org, now.Add(-time.Hour), now)
	day, err2 := c.cfg.Log.Counts(ctx, org, now.Add(-24*time.Hour), now)
	if err := errors.Join(err1, err2); err != nil {
		c.log.Error().Err(err).Msg("console: counts")
		data.CountsErr = true
	} else {
		data.LastHour, data.LastDay = countsOf(hour), countsOf(day)
		if ch, err := c.chart(ctx, org, now); err == nil {
			data.Chart = ch
		} else {
			c.log.Error().Err(err).Msg("console: hourly counts")
		}
	}
	if n, err := c.undeliveredCount(ctx, org); err != nil {
		c.log.Error().Err(err).Msg("console: undelivered count")
		data.UndeliveredErr = true
	} else {
		data.Undelivered = n
	}
	if v.P.Operator() {
		data.Lag = c.lag(ctx)
	}
	if hs, ok := c.cfg.Log.(hostStats); ok {
		data.HasHosts = true
		stats, err := hs.Hosts(ctx, org, now.Add(-hostWindow), now, hostsAsked)
		if err != nil {
			c.log.Error().Err(err).Msg("console: host statistics")
			data.HostsErr = true
		}
		data.Slowest, data.OpenCircuits = slowestAndOpen(stats)
	}
	c.render(w, r, v, http.StatusOK, "overview", "Overview", data)
}

// slowestAndOpen returns the hosts with the longest average attempt, and
// those an open circuit refused, most recent first.
func slowestAndOpen(stats []logstore.HostStat) (slowest, open []logstore.HostStat) {
	for _, s := range stats {
		if s.CircuitOpen > 0 {
			open = append(open, s)
		}
		if s.Attempts > 0 {
			slowest = append(slowest, s)
		}
	}
	slices.SortFunc(slowest, func(a, b logstore.HostStat) int { return cmp.Compare(b.AvgDurationMS, a.AvgDurationMS) })
	slices.SortFunc(open, func(a, b logstore.HostStat) int { return b.LastAttemptAt.Compare(a.LastAttemptAt) })
	return slowest[:min(len(slowest), hostsShown)], open
}

// undeliveredCount returns the depth of the undelivered stream: every
// message for org "", else the messages on the organization's subjects
// (one subject per event, summed from the stream's subject counts).
func (c *console) undeliveredCount(ctx context.Context, org string) (uint64, error) {
	stream, err := c.cfg.JS.Stream(ctx, c.cfg.Streams.UndeliveredStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open stream %s: %w", c.cfg.Streams.UndeliveredStream, err)
	}
	if org == "" {
		info, err := stream.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("info of %s: %w", c.cfg.Streams.UndeliveredStream, err)
		}
		return info.State.Msgs, nil
	}
	subject := c.cfg.Streams.SubjectPrefix + ".undelivered." + org + ".>"
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0, fmt.Errorf("info of %s for %s: %w", c.cfg.Streams.UndeliveredStream, subject, err)
	}
	var n uint64
	for _, count := range info.State.Subjects {
		n += count
	}
	return n, nil
}

// lag reads the deliverers' consumer on every deliver partition, summed.
func (c *console) lag(ctx context.Context) *lagView {
	parts, err := streams.DeliverLag(ctx, c.cfg.JS, c.cfg.Streams)
	if err != nil {
		c.log.Error().Err(err).Msg("console: consumer info")
		return &lagView{Err: true}
	}
	var v lagView
	for _, p := range parts {
		v.Pending += p.Pending
		v.AckPending += uint64(p.AckPending)
	}
	return &v
}
