package metrics

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// scrapeTimeout bounds the JetStream reads of one scrape.
const scrapeTimeout = 2 * time.Second

// StreamCollector reports the pipeline's JetStream state at scrape time:
// the deliverers' consumer's pending and ack-pending counts on each deliver
// partition, labelled partition (the autoscaling signal is their sum), and
// the depth of the undelivered stream. A failed read is reported as
// webhooks_jetstream_up 0 and the other series are left out.
type StreamCollector struct {
	js  jetstream.JetStream
	cfg streams.Config

	up, pending, ackPending, redelivered, undelivered *prometheus.Desc
}

// NewStreamCollector returns a collector for the streams named by cfg.
func NewStreamCollector(js jetstream.JetStream, cfg streams.Config) *StreamCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
	}
	return &StreamCollector{
		js: js, cfg: cfg.WithDefaults(),
		up:          d("jetstream_up", "1 when the last scrape could read the consumer and streams, else 0."),
		pending:     d("consumer_pending_messages", "Messages on a deliver partition not yet delivered to any deliverer (the backlog: scale deliverers on the sum over partitions).", "partition"),
		ackPending:  d("consumer_ack_pending_messages", "Messages delivered and not yet acknowledged, including retries waiting out their delay.", "partition"),
		redelivered: d("consumer_redelivered_messages", "Messages delivered more than once and not yet acknowledged.", "partition"),
		undelivered: d("undelivered_messages", "Events in WEBHOOKS_UNDELIVERED."),
	}
}

// Describe implements prometheus.Collector.
func (c *StreamCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.pending
	ch <- c.ackPending
	ch <- c.redelivered
	ch <- c.undelivered
}

// Collect implements prometheus.Collector.
func (c *StreamCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	parts, err := streams.DeliverLag(ctx, c.js, c.cfg)
	var si *jetstream.StreamInfo
	if err == nil {
		var s jetstream.Stream
		if s, err = c.js.Stream(ctx, c.cfg.UndeliveredStream); err == nil {
			si, err = s.Info(ctx)
		}
	}
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for _, p := range parts {
		label := p.Partition.Label()
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(p.Pending), label)
		ch <- prometheus.MustNewConstMetric(c.ackPending, prometheus.GaugeValue, float64(p.AckPending), label)
		ch <- prometheus.MustNewConstMetric(c.redelivered, prometheus.GaugeValue, float64(p.Redelivered), label)
	}
	ch <- prometheus.MustNewConstMetric(c.undelivered, prometheus.GaugeValue, float64(si.State.Msgs))
}
