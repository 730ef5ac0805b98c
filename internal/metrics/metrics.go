// Package metrics defines the pipeline's Prometheus series: what the
// deliverer and the publisher count and measure, and the stream gauges
// read from JetStream at scrape time. Every series is documented in the
// README's operations section. Recording methods are safe on a nil
// receiver, so components run without metrics in tests.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Namespace prefixes every series.
const Namespace = "webhooks"

// Deliverer holds the deliverer's series.
type Deliverer struct {
	deliveries   *prometheus.CounterVec
	attempts     *prometheus.HistogramVec
	inFlight     prometheus.Gauge
	waiting      prometheus.Gauge
	recordErrors prometheus.Counter
	circuits     *prometheus.CounterVec
	circuitsOpen prometheus.Gauge
	watchdog     prometheus.Counter
	pulled       *prometheus.CounterVec
	moved        *prometheus.CounterVec
}

// NewDeliverer creates the deliverer's series and registers them on reg.
func NewDeliverer(reg prometheus.Registerer) *Deliverer {
	m := &Deliverer{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "deliveries_total",
			Help: "Attempt decisions by outcome: delivered (2xx, acked), retry (failed, redelivery scheduled), dead_letter (moved to the undelivered stream).",
		}, []string{"outcome", "source"}),
		attempts: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "attempt_duration_seconds",
			Help:    "Duration of delivery attempts (sign, POST, read the response), by result class.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 150},
		}, []string{"result"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "attempts_in_flight",
			Help: "Attempts being worked on by this deliverer.",
		}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "attempts_waiting_for_host",
			Help: "Messages waiting because their destination host is at its concurrency limit.",
		}),
		recordErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "attempt_record_errors_total",
			Help: "Attempt records that could not be written to the attempt stream (WEBHOOKS_ATTEMPTS) within the record budget.",
		}),
	}
	m.circuits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "circuit_transitions_total",
		Help: "Per-host circuit breaker state changes, by the state entered (open, half_open, closed).",
	}, []string{"to"})
	m.circuitsOpen = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "circuits_open",
		Help: "Destination hosts whose circuit is open or half-open: attempts to them fail at once without sending.",
	})
	m.watchdog = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "pull_restarts_total",
		Help: "Times the no-progress watchdog re-created the pull (messages pending, workers free, nothing received).",
	})
	m.pulled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "pulled_messages_total",
		Help: "Messages pulled from each deliver partition (\"none\" is the unpartitioned WEBHOOKS stream), retries included.",
	}, []string{"partition"})
	m.moved = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "moved_to_overflow_total",
		Help: "Messages moved from a deliver partition to the overflow stream because their organization's backlog there held other organizations up.",
	}, []string{"partition"})
	reg.MustRegister(m.deliveries, m.attempts, m.inFlight, m.waiting, m.recordErrors, m.circuits, m.circuitsOpen, m.watchdog, m.pulled, m.moved)
	// Every label value exists from the start, at zero, so that dashboards
	// and alerts see the series before the first event of each kind.
	for _, outcome := range []string{"delivered", "retry", "dead_letter"} {
		for _, source := range []string{"job", "workflow"} {
			m.deliveries.WithLabelValues(outcome, source)
		}
	}
	for _, result := range []string{"2xx", "3xx", "4xx", "5xx", "timeout", "connection", "tls"} {
		m.attempts.WithLabelValues(result)
	}
	for _, to := range []string{"open", "half_open", "closed"} {
		m.circuits.WithLabelValues(to)
	}
	return m
}

// Decision counts one attempt's decision ("delivered", "retry",
// "dead_letter") for a source ("job", "workflow").
func (m *Deliverer) Decision(outcome, source string) {
	if m != nil {
		m.deliveries.WithLabelValues(outcome, source).Inc()
	}
}

// Attempt observes one attempt's duration in seconds; result is the
// outcome class ("2xx", "4xx", "5xx", "timeout", "connection", ...).
func (m *Deliverer) Attempt(result string, seconds float64) {
	if m != nil {
		m.attempts.WithLabelValues(result).Observe(seconds)
	}
}

// InFlight adds delta to the attempts in flight.
func (m *Deliverer) InFlight(delta float64) {
	if m != nil {
		m.inFlight.Add(delta)
	}
}

// Waiting adds delta to the messages waiting for a host.
func (m *Deliverer) Waiting(delta float64) {
	if m != nil {
		m.waiting.Add(delta)
	}
}

// RecordError counts an attempt record that could not be written.
func (m *Deliverer) RecordError() {
	if m != nil {
		m.recordErrors.Inc()
	}
}

// Circuit records a circuit breaker transition into state to, with the
// number of circuits now open.
func (m *Deliverer) Circuit(to string, open int) {
	if m != nil {
		m.circuits.WithLabelValues(to).Inc()
		m.circuitsOpen.Set(float64(open))
	}
}

// Pulled returns the counter of messages pulled from the partition with
// label (streams.Partition.Label); with m nil, a counter nobody reads.
func (m *Deliverer) Pulled(label string) prometheus.Counter {
	if m == nil {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "unregistered"})
	}
	return m.pulled.WithLabelValues(label)
}

// Moved counts a message moved from the partition with label to the
// overflow stream.
func (m *Deliverer) Moved(label string) {
	if m != nil {
		m.moved.WithLabelValues(label).Inc()
	}
}

// PullRestart counts a watchdog restart of the pull.
func (m *Deliverer) PullRestart() {
	if m != nil {
		m.watchdog.Inc()
	}
}

// Publisher holds the publisher's series.
type Publisher struct {
	publishes *prometheus.CounterVec
}

// NewPublisher creates the publisher's series and registers them on reg.
func NewPublisher(reg prometheus.Registerer) *Publisher {
	m := &Publisher{publishes: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "publishes_total",
		Help: "Publish requests by result: stored, duplicate (already stored), invalid (refused input), too_large, unavailable (not stored).",
	}, []string{"result"})}
	reg.MustRegister(m.publishes)
	for _, result := range []string{"stored", "duplicate", "invalid", "too_large", "unavailable"} {
		m.publishes.WithLabelValues(result)
	}
	return m
}

// Publish counts one publish by result.
func (m *Publisher) Publish(result string) {
	if m != nil {
		m.publishes.WithLabelValues(result).Inc()
	}
}
