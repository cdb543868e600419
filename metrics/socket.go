package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// socketMetrics count the Slack Socket Mode connection (SLACK_APP_TOKEN).
type socketMetrics struct {
	connections *prometheus.CounterVec
	connected   prometheus.Gauge
	envelopes   *prometheus.CounterVec
	ackLatency  prometheus.Histogram
}

func newSocketMetrics(reg *prometheus.Registry) socketMetrics {
	s := socketMetrics{
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slabot_slack_socket_connections_total",
			Help: "Slack Socket Mode connections Slack greeted, by kind (first, reconnect).",
		}, []string{"kind"}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slabot_slack_socket_connected", Help: "1 while this replica's Slack Socket Mode connection is up.",
		}),
		envelopes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slabot_slack_socket_envelopes_total",
			Help: "Slack Socket Mode envelopes by type and outcome (handled, duplicate, malformed, retry_later).",
		}, []string{"type", "outcome"}),
		ackLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "slabot_slack_socket_ack_seconds", Help: "Time from a Socket Mode envelope's arrival to its acknowledgement (Slack allows 3 s).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 3, 5},
		}),
	}
	reg.MustRegister(s.connections, s.connected, s.envelopes, s.ackLatency)
	s.connections.WithLabelValues("first")
	s.connections.WithLabelValues("reconnect")
	return s
}

// SocketConnected counts one connection Slack greeted.
func (m *Metrics) SocketConnected(reconnect bool) {
	kind := "first"
	if reconnect {
		kind = "reconnect"
	}
	m.socket.connections.WithLabelValues(kind).Inc()
	m.socket.connected.Set(1)
}

// SocketDisconnected notes the connection is down.
func (m *Metrics) SocketDisconnected() { m.socket.connected.Set(0) }

// SocketEnvelope counts one envelope.
func (m *Metrics) SocketEnvelope(kind, outcome string) {
	m.socket.envelopes.WithLabelValues(kind, outcome).Inc()
}

// SocketAck observes one envelope's time to acknowledgement.
func (m *Metrics) SocketAck(elapsed time.Duration) { m.socket.ackLatency.Observe(elapsed.Seconds()) }
