package handlers_test

import (
	"bufio"
	"bytes"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/handlers"
	"github.com/slabot/slabot/metrics"
)

// syncBuffer is a log sink the handler writes from its goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// metricValue reads one unlabelled series from a /metrics page.
func metricValue(t *testing.T, page, name string) float64 {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(page))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == name {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return v
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// TestUnknownMetricLoggedAndCounted: a metric event naming no metric
// ("wait_time") still answers 200 ignored, but the operator sees it: a
// log line once per name per hour, and every one in /metrics.
func TestUnknownMetricLoggedAndCounted(t *testing.T) {
	clock := app.NewManualClock(time.Date(2026, 11, 27, 10, 16, 0, 0, time.UTC))
	var logs syncBuffer
	m := metrics.New(nil)
	srv := httptest.NewServer(handlers.New(handlers.Deps{Store: nil, Webhook: handlers.WebhookAuth{AllowUnsigned: true},
		Observer: m, Metrics: m.Handler(), Clock: clock, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}))
	t.Cleanup(srv.Close)

	event := func(id, metric string) []byte {
		return []byte(strings.NewReplacer("4b7e1f0c-2a55-4c1e-9d0e-6b1f3d2a9c01", id, `"longest_wait"`, strconv.Quote(metric)).Replace(metricEvent))
	}
	send := func(id, metric string) {
		t.Helper()
		code, body := post(t, srv.URL, event(id, metric), nil)
		if code != 200 || body["status"] != "ignored" {
			t.Fatalf("%s: %d %v, want 200 ignored", metric, code, body)
		}
	}
	logged := func(metric string) int { return strings.Count(logs.String(), `"metric":"`+metric+`"`) }

	send("e1", "wait_time")
	send("e2", "wait_time")
	clock.Advance(59 * time.Minute)
	send("e3", "wait_time")
	send("e4", "occupancy")
	if got := logged("wait_time"); got != 1 {
		t.Errorf("wait_time logged %d times within the hour, want 1:\n%s", got, logs.String())
	}
	if got := logged("occupancy"); got != 1 {
		t.Errorf("occupancy logged %d times, want 1", got)
	}
	clock.Advance(time.Minute)
	send("e5", "wait_time")
	if got := logged("wait_time"); got != 2 {
		t.Errorf("wait_time logged %d times after an hour, want 2", got)
	}
	if !strings.Contains(logs.String(), "metric event ignored: its metric is none of slabot's") {
		t.Errorf("log does not say what happened:\n%s", logs.String())
	}

	resp, err := srv.Client().Get(srv.URL + handlers.PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page bytes.Buffer
	_, _ = page.ReadFrom(resp.Body)
	if got := metricValue(t, page.String(), "slabot_webhook_unknown_metrics_total"); got != 5 {
		t.Errorf("slabot_webhook_unknown_metrics_total = %v, want 5", got)
	}
}
