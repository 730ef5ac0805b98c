package console

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Chart geometry, in SVG user units.
const (
	chartHours  = 24
	chartWidth  = 720
	chartHeight = 180
	chartLeft   = 40 // room for the scale
	chartBottom = 20 // room for the hour labels
	chartTop    = 8
	chartGap    = 4
	// chartCacheMax bounds the organizations whose chart is kept.
	chartCacheMax = 256
)

// chartView is the server-side SVG bar chart of the last 24 hours.
type chartView struct {
	Width, Height int
	Bars          []chartBar
	Labels        []chartLabel
	// Max is the scale's top; Summary describes the chart in words.
	Max     int64
	Summary string
	// AxisY is the baseline's y.
	AxisY, AxisX1, AxisX2 int
}

// chartBar is one hour: its stacked segments.
type chartBar struct {
	Segments []chartSegment
}

// chartSegment is one state's part of an hour.
type chartSegment struct {
	Class      string
	X, Y, W, H int
	Title      string
}

// chartLabel is a text on an axis.
type chartLabel struct {
	X, Y   int
	Anchor string
	Text   string
}

// chartCache keeps each organization's hourly counts for the minute they
// were read in, so that reloading the overview costs no 24 queries. It
// is safe for concurrent use.
type chartCache struct {
	mu sync.Mutex
	m  map[string]chartEntry
}

type chartEntry struct {
	minute time.Time
	hours  []stateCounts
}

func newChartCache() *chartCache { return &chartCache{m: map[string]chartEntry{}} }

// chart returns the chart of org's last 24 hours by hour (the last one
// still running), from the cache when it was read this minute.
func (c *console) chart(ctx context.Context, org string, now time.Time) (*chartView, error) {
	minute := now.Truncate(time.Minute)
	first := now.Truncate(time.Hour).Add(-(chartHours - 1) * time.Hour)
	c.charts.mu.Lock()
	e, ok := c.charts.m[org]
	c.charts.mu.Unlock()
	if !ok || !e.minute.Equal(minute) {
		hours := make([]stateCounts, chartHours)
		for i := range hours {
			from := first.Add(time.Duration(i) * time.Hour)
			m, err := c.cfg.Log.Counts(ctx, org, from, from.Add(time.Hour))
			if err != nil {
				return nil, fmt.Errorf("counts from %s: %w", from.Format(time.RFC3339), err)
			}
			hours[i] = countsOf(m)
		}
		e = chartEntry{minute: minute, hours: hours}
		c.charts.mu.Lock()
		if len(c.charts.m) >= chartCacheMax {
			clear(c.charts.m)
		}
		c.charts.m[org] = e
		c.charts.mu.Unlock()
	}
	return drawChart(first, e.hours), nil
}

// drawChart lays out hours (starting at first) as stacked bars: delivered
// at the bottom, then retrying, then undelivered.
func drawChart(first time.Time, hours []stateCounts) *chartView {
	ch := &chartView{Width: chartWidth, Height: chartHeight, AxisY: chartHeight - chartBottom, AxisX1: chartLeft, AxisX2: chartWidth}
	var total, undelivered int64
	for _, h := range hours {
		ch.Max = max(ch.Max, h.Delivered+h.Retrying+h.Undelivered)
		total += h.Delivered + h.Retrying + h.Undelivered
		undelivered += h.Undelivered
	}
	ch.Summary = fmt.Sprintf("%d deliveries in the last 24 hours, %d undelivered", total, undelivered)
	scale := max(ch.Max, 1)
	plotH := chartHeight - chartBottom - chartTop
	slot := (chartWidth - chartLeft) / len(hours)
	for i, h := range hours {
		from := first.Add(time.Duration(i) * time.Hour)
		label := from.Format("15:04") + "–" + from.Add(time.Hour).Format("15:04") + " UTC: "
		x, y := chartLeft+i*slot+chartGap/2, chartHeight-chartBottom
		var bar chartBar
		for _, part := range []struct {
			class string
			n     int64
		}{{"bar-delivered", h.Delivered}, {"bar-retrying", h.Retrying}, {"bar-undelivered", h.Undelivered}} {
			if part.n == 0 {
				continue
			}
			hgt := max(1, int(part.n*int64(plotH)/scale))
			y -= hgt
			bar.Segments = append(bar.Segments, chartSegment{Class: part.class, X: x, Y: y, W: slot - chartGap, H: hgt,
				Title: label + strconv.FormatInt(part.n, 10) + " " + part.class[len("bar-"):]})
		}
		ch.Bars = append(ch.Bars, bar)
		if i%6 == 0 {
			ch.Labels = append(ch.Labels, chartLabel{X: x, Y: chartHeight - 4, Anchor: "start", Text: from.Format("15:04")})
		}
	}
	ch.Labels = append(ch.Labels,
		chartLabel{X: chartLeft - 6, Y: chartTop + 10, Anchor: "end", Text: strconv.FormatInt(ch.Max, 10)},
		chartLabel{X: chartLeft - 6, Y: chartHeight - chartBottom, Anchor: "end", Text: "0"})
	return ch
}
