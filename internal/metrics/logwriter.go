package metrics

import "github.com/prometheus/client_golang/prometheus"

// LogWriter holds the log writer's series.
type LogWriter struct {
	lag       prometheus.Histogram
	lagLast   prometheus.Gauge
	pending   prometheus.Gauge
	records   *prometheus.CounterVec
	writes    *prometheus.HistogramVec
	malformed prometheus.Counter
}

// NewLogWriter creates the log writer's series and registers them on reg.
func NewLogWriter(reg prometheus.Registerer) *LogWriter {
	m := &LogWriter{
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "log_writer_lag_seconds",
			Help:    "Ingest lag of the delivery log: from a record's arrival on WEBHOOKS_ATTEMPTS to the commit of its batch (the newest record of each batch).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
		}),
		lagLast: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "log_writer_last_lag_seconds",
			Help: "Ingest lag of the last committed batch, in seconds.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "log_writer_pending_records",
			Help: "Attempt records waiting on WEBHOOKS_ATTEMPTS behind the last batch this writer read.",
		}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "log_writer_records_total",
			Help: "Attempt records in batches the writer tried to store, by result (written, failed: retried later).",
		}, []string{"result"}),
		writes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "log_writer_write_seconds",
			Help:    "Duration of one batch's store transaction, by result.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"result"}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "log_writer_malformed_records_total",
			Help: "Attempt records that did not decode and were dropped (terminated).",
		}),
	}
	reg.MustRegister(m.lag, m.lagLast, m.pending, m.records, m.writes, m.malformed)
	for _, r := range []string{"written", "failed"} {
		m.records.WithLabelValues(r)
		m.writes.WithLabelValues(r)
	}
	return m
}

// Batch records one batch of n records written in seconds; err is the
// store's answer.
func (m *LogWriter) Batch(n int, seconds float64, err error) {
	if m == nil {
		return
	}
	result := "written"
	if err != nil {
		result = "failed"
	}
	m.records.WithLabelValues(result).Add(float64(n))
	m.writes.WithLabelValues(result).Observe(seconds)
}

// Lag records the lag of a committed batch and the records behind it.
func (m *LogWriter) Lag(seconds float64, pending uint64) {
	if m != nil {
		m.lag.Observe(seconds)
		m.lagLast.Set(seconds)
		m.pending.Set(float64(pending))
	}
}

// Malformed counts a dropped record.
func (m *LogWriter) Malformed() {
	if m != nil {
		m.malformed.Inc()
	}
}
