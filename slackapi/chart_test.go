package slackapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
	"github.com/slabot/slabot/chart"
)

// drawer hands out a fixed picture, or fails with err.
type drawer struct {
	err   error
	drawn []app.Notification
}

func (d *drawer) Draw(_ context.Context, n app.Notification) ([]byte, string, error) {
	d.drawn = append(d.drawn, n)
	if d.err != nil {
		return nil, "", d.err
	}
	return pngBytes, "Support voice: Longest wait", nil
}

func chartNote(alertID string) app.Notification {
	return app.Notification{Kind: app.KindChart, Channel: "C1", Alert: app.Alert{ID: alertID, Episode: 1},
		Chart: &app.ChartJob{QueueID: "Q1", Metric: app.LongestWait}}
}

func TestNotifyChartUploadsIntoTheThread(t *testing.T) {
	f := newFakeSlack(t, "/api/")
	d := &drawer{}
	c := newTestClient(t, f, Options{Charts: d})
	if _, err := c.Notify(t.Context(), chartNote("Q1//longest_wait"), "1700000000.000100"); err != nil {
		t.Fatal(err)
	}
	shared := f.files.Shared()
	if len(shared) != 1 || shared[0].ThreadTS != "1700000000.000100" || shared[0].Channel != "C1" ||
		shared[0].Title != "Support voice: Longest wait" || shared[0].Name != ChartFile || !bytes.Equal(shared[0].Bytes, pngBytes) {
		t.Fatalf("shared %+v, want the drawn PNG in C1's thread 1700000000.000100", shared)
	}
	// A chart that belongs to no message goes to the channel.
	if _, err := c.Notify(t.Context(), chartNote(""), ""); err != nil {
		t.Fatal(err)
	}
	if shared := f.files.Shared(); len(shared) != 2 || shared[1].ThreadTS != "" || shared[1].Channel != "C1" {
		t.Errorf("shared %+v, want the second in C1 itself", shared)
	}
}

func TestNotifyChartFailures(t *testing.T) {
	tests := []struct {
		name    string
		charts  ChartDrawer
		skipped bool
		retry   bool
	}{
		{name: "no drawer wired", skipped: true},
		{name: "no history to draw", charts: &drawer{err: fmt.Errorf("chart: %w", chart.ErrNoData)}, skipped: true},
		{name: "store unreachable", charts: &drawer{err: fmt.Errorf("read: %w", app.ErrUnavailable)}, retry: true},
		{name: "drawing failed", charts: &drawer{err: errors.New("font missing")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSlack(t, "/api/")
			c := newTestClient(t, f, Options{Charts: tt.charts})
			_, err := c.Notify(t.Context(), chartNote("Q1//longest_wait"), "1700000000.000100")
			if got := errors.Is(err, dispatch.ErrSkipped); got != tt.skipped {
				t.Fatalf("err = %v, skipped %v, want %v", err, got, tt.skipped)
			}
			var de *dispatch.DeliveryError
			if !tt.skipped && (!errors.As(err, &de) || de.Retry != tt.retry) {
				t.Errorf("err = %#v, want a DeliveryError with Retry %v", err, tt.retry)
			}
			if n := len(f.Calls()); n != 0 {
				t.Errorf("Slack was called %d times for a chart not drawn", n)
			}
		})
	}
}

// Without files:write a chart is skipped (dispatch.ErrSkipped), not failed.
func TestNotifyChartWithoutFilesScopeIsSkipped(t *testing.T) {
	f := newFakeSlack(t, "/api/")
	f.files.Refuse = func(string) string { return "missing_scope" }
	c := newTestClient(t, f, Options{Charts: &drawer{}})
	for i := range 2 {
		_, err := c.Notify(t.Context(), chartNote("Q1//longest_wait"), "1700000000.000100")
		if !errors.Is(err, dispatch.ErrSkipped) || !errors.Is(err, ErrNoFilesScope) {
			t.Errorf("chart %d: err = %v, want skipped for want of files:write", i, err)
		}
	}
	if n := len(f.Calls()); n != 1 {
		t.Errorf("Slack was asked %d times, want once", n)
	}
}

// In local mode the Console writes charts to its folder and prints where.
func TestConsoleWritesCharts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "charts")
	var out bytes.Buffer
	c := NewConsole(&out, ConsoleOptions{Charts: &drawer{}, ChartDir: dir})
	for range 2 {
		if _, err := c.Notify(t.Context(), chartNote("Q1//longest_wait"), "console.0001"); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"sla-chart-0001.png", "sla-chart-0002.png"} {
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(b, pngBytes) {
			t.Errorf("%s: %v, want the drawn PNG", name, err)
		}
		if !strings.Contains(out.String(), "PNG: "+path) {
			t.Errorf("console does not print %s:\n%s", path, out.String())
		}
	}
	if !strings.Contains(out.String(), "chart in the thread of console.0001 in C1") || !strings.Contains(out.String(), "Support voice: Longest wait") {
		t.Errorf("console output:\n%s", out.String())
	}
	if _, err := NewConsole(&out, ConsoleOptions{}).Notify(t.Context(), chartNote(""), ""); !errors.Is(err, dispatch.ErrSkipped) {
		t.Errorf("console without a drawer: %v, want skipped", err)
	}
}
