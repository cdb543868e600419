// Package metrics exposes slabot's Prometheus metrics (DESIGN §7). It
// implements the observer interfaces the other packages declare, so none
// of them imports Prometheus.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/slabot/slabot/app"
)

// Gauges are read from the store at scrape time, so every replica reports
// the shared truth rather than its own share of it.
type Gauges interface {
	OutboxDepth(ctx context.Context) (int64, time.Duration, error)
	OpenAlertCount(ctx context.Context) (int64, error)
}

// Metrics holds slabot's collectors on a private registry.
type Metrics struct {
	reg            *prometheus.Registry
	webhookEvents  *prometheus.CounterVec
	webhookLatency *prometheus.HistogramVec
	transitions    *prometheus.CounterVec
	slackCalls     *prometheus.CounterVec
	deliveryDelay  prometheus.Histogram
	pollCycles     *prometheus.CounterVec
	pollLast       prometheus.Gauge
	redisErrors    prometheus.Counter
	socket         socketMetrics
	redisMemory    *prometheus.GaugeVec
	historyPaused  prometheus.Gauge
	unknownMetrics prometheus.Counter
}

// WithGauges adds the store-backed gauges; the store is opened after the
// metrics exist so that it can count its own errors.
func (m *Metrics) WithGauges(g Gauges) *Metrics {
	m.reg.MustRegister(storeCollector{gauges: g})
	return m
}

// New registers every metric; gauges may be nil (no store gauges).
func New(gauges Gauges) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		webhookEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slabot_webhook_events_total", Help: "Webhook events by format and outcome.",
		}, []string{"format", "outcome"}),
		webhookLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "slabot_webhook_request_duration_seconds", Help: "Webhook request latency by status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"code"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slabot_alert_transitions_total", Help: "Alert transitions by kind (fired, updated, resolved, reminded, acknowledged…).",
		}, []string{"transition"}),
		slackCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slabot_slack_calls_total", Help: "Slack Web API calls by method and result (ok, rate_limited, retryable, permanent, skipped: a chart without files:write or history).",
		}, []string{"method", "result"}),
		deliveryDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "slabot_slack_delivery_delay_seconds", Help: "Time from a state change to its Slack call succeeding.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
		pollCycles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slabot_poll_cycles_total", Help: "Genesys polling cycles by result (ok, error).",
		}, []string{"result"}),
		pollLast: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slabot_poll_last_success_timestamp_seconds", Help: "Unix time of the last successful polling cycle.",
		}),
		redisErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slabot_redis_errors_total", Help: "Redis commands that failed (excluding cache misses).",
		}),
		redisMemory: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "slabot_redis_memory_bytes", Help: "Redis used_memory (kind=used) and its limit (kind=max: maxmemory or REDIS_MAXMEMORY), as the memory guard last read them.",
		}, []string{"kind"}),
		historyPaused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slabot_history_paused", Help: "1 while the memory guard has paused metric history writes (Redis above 80 % of its limit).",
		}),
		unknownMetrics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slabot_webhook_unknown_metrics_total", Help: "Metric events ignored because their metric is none of slabot's (the log names it, once an hour per name).",
		}),
	}
	m.reg.MustRegister(m.webhookEvents, m.webhookLatency, m.transitions, m.slackCalls, m.deliveryDelay,
		m.pollCycles, m.pollLast, m.redisErrors, m.redisMemory, m.historyPaused, m.unknownMetrics,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.socket = newSocketMetrics(m.reg)
	if gauges != nil {
		m.reg.MustRegister(storeCollector{gauges: gauges})
	}
	// Export the series operators alert on from the start, at zero.
	for _, r := range []string{"ok", "error"} {
		m.pollCycles.WithLabelValues(r)
	}
	for _, method := range []string{"chat.postMessage", "chat.update"} {
		for _, r := range []string{"ok", "rate_limited", "retryable", "permanent"} {
			m.slackCalls.WithLabelValues(method, r)
		}
	}
	return m
}

// Handler serves the registry for GET /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// WebhookEvent counts one webhook event.
func (m *Metrics) WebhookEvent(format, outcome string) {
	m.webhookEvents.WithLabelValues(format, outcome).Inc()
}

// WebhookRequest observes one webhook request.
func (m *Metrics) WebhookRequest(status int, elapsed time.Duration) {
	m.webhookLatency.WithLabelValues(strconv.Itoa(status)).Observe(elapsed.Seconds())
}

// UnknownMetric counts a metric event ignored for its unknown metric.
func (m *Metrics) UnknownMetric() { m.unknownMetrics.Inc() }

// Transition counts one alert transition.
func (m *Metrics) Transition(kind string) { m.transitions.WithLabelValues(kind).Inc() }

// Delivered counts one Slack call and, when it succeeded, its delay.
func (m *Metrics) Delivered(kind app.NotificationKind, result string, delay time.Duration) {
	method := "chat.postMessage"
	switch kind {
	case app.KindUpdate, app.KindDigestUpdate:
		method = "chat.update"
	case app.KindChart:
		method = "files.completeUploadExternal"
	}
	m.slackCalls.WithLabelValues(method, result).Inc()
	if result == "ok" {
		m.deliveryDelay.Observe(delay.Seconds())
	}
}

// PollCycle counts one Genesys polling cycle.
func (m *Metrics) PollCycle(err error, at time.Time) {
	if err != nil {
		m.pollCycles.WithLabelValues("error").Inc()
		return
	}
	m.pollCycles.WithLabelValues("ok").Inc()
	m.pollLast.Set(float64(at.Unix()))
}

// RedisError counts one failed Redis command.
func (m *Metrics) RedisError() { m.redisErrors.Inc() }

var (
	outboxDepthDesc = prometheus.NewDesc("slabot_outbox_depth", "Slack notifications waiting in the outbox.", nil, nil)
	outboxAgeDesc   = prometheus.NewDesc("slabot_outbox_oldest_age_seconds", "Age of the oldest waiting notification.", nil, nil)
	openAlertsDesc  = prometheus.NewDesc("slabot_open_alerts", "Pending, firing and acknowledged alerts.", nil, nil)
)

// storeCollector reads the shared gauges from the store at scrape time.
type storeCollector struct{ gauges Gauges }

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxDepthDesc
	ch <- outboxAgeDesc
	ch <- openAlertsDesc
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if n, age, err := c.gauges.OutboxDepth(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(outboxDepthDesc, prometheus.GaugeValue, float64(n))
		ch <- prometheus.MustNewConstMetric(outboxAgeDesc, prometheus.GaugeValue, age.Seconds())
	}
	if n, err := c.gauges.OpenAlertCount(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(openAlertsDesc, prometheus.GaugeValue, float64(n))
	}
}

// RedisMemory records the memory guard's reading.
func (m *Metrics) RedisMemory(used, limit int64, historyPaused bool) {
	m.redisMemory.WithLabelValues("used").Set(float64(used))
	m.redisMemory.WithLabelValues("max").Set(float64(limit))
	paused := 0.0
	if historyPaused {
		paused = 1
	}
	m.historyPaused.Set(paused)
}
