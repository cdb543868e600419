package main

import (
	"bufio"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// parseMetrics reads a Prometheus text page into series → value, each
// series written as the page writes it: name{label="v",…}.
func parseMetrics(page string) (map[string]float64, error) {
	out := make(map[string]float64)
	sc := bufio.NewScanner(strings.NewReader(page))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, fmt.Errorf("/metrics line %q has no value", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("/metrics line %q: %w", line, err)
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// metricMismatches compares the values of series on a /metrics page with
// want, exactly: "slabot_open_alerts 1" must not pass on 10.
func metricMismatches(page string, want map[string]float64) []string {
	got, err := parseMetrics(page)
	if err != nil {
		return []string{err.Error()}
	}
	var bad []string
	for series, v := range want {
		g, ok := got[series]
		switch {
		case !ok:
			bad = append(bad, "/metrics lacks "+series)
		case g != v:
			bad = append(bad, fmt.Sprintf("/metrics: %s = %v, want %v", series, g, v))
		}
	}
	slices.Sort(bad)
	return bad
}

// checkMetrics fails t for each series whose value is not want's.
func checkMetrics(t *testing.T, page string, want map[string]float64) {
	t.Helper()
	for _, m := range metricMismatches(page, want) {
		t.Error(m)
	}
}

func TestCheckMetricsReadsValues(t *testing.T) {
	page := "# HELP x\nslabot_open_alerts 10\nslabot_x_total{a=\"b\"} 2.5\n"
	got, err := parseMetrics(page)
	if err != nil || got["slabot_open_alerts"] != 10 || got[`slabot_x_total{a="b"}`] != 2.5 || len(got) != 2 {
		t.Errorf("parseMetrics = %v, %v", got, err)
	}
	if bad := metricMismatches(page, map[string]float64{"slabot_open_alerts": 1, "slabot_missing": 0}); len(bad) != 2 {
		t.Errorf("mismatches = %q, want 10 open alerts and a missing series reported", bad)
	}
}
