package slackapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
	"github.com/slabot/slabot/chart"
)

// ChartDrawer draws a KindChart notification's PNG and names it;
// *chartjob.Drawer implements it. An error wrapping chart.ErrNoData means
// there is nothing to draw.
type ChartDrawer interface {
	Draw(ctx context.Context, n app.Notification) (png []byte, title string, err error)
}

// ChartFile is the file name a series chart is shared under; a report's
// is app.ReportChartFile.
const ChartFile = "sla-chart.png"

// chartFile is the file name n's chart is shared under.
func chartFile(n app.Notification) string {
	if n.Chart != nil && n.Chart.Report != nil {
		return app.ReportChartFile
	}
	return ChartFile
}

// drawChart draws n's chart with d. A chart that cannot be drawn for good
// reasons (no drawer wired, no history in its window) is skipped
// (dispatch.ErrSkipped); a store that cannot be read is retried.
func drawChart(ctx context.Context, d ChartDrawer, n app.Notification, who string) ([]byte, string, error) {
	switch {
	case d == nil:
		return nil, "", fmt.Errorf("%w: %s draws no charts", dispatch.ErrSkipped, who)
	case n.Chart == nil:
		return nil, "", &dispatch.DeliveryError{Err: errors.New(who + ": chart without its job")}
	}
	png, title, err := d.Draw(ctx, n)
	switch {
	case errors.Is(err, chart.ErrNoData):
		return nil, "", fmt.Errorf("%w: %w", dispatch.ErrSkipped, err)
	case err != nil:
		return nil, "", &dispatch.DeliveryError{Err: fmt.Errorf("%s: draw chart: %w", who, err), Retry: errors.Is(err, app.ErrUnavailable)}
	}
	return png, title, nil
}

// shareChart draws n's chart and uploads it into the thread of ts (the
// episode's message), or to the channel when n is standalone. Without the
// files:write scope the chart is skipped: UploadPNG has said so once.
func (c *Client) shareChart(ctx context.Context, n app.Notification, ts string) (string, error) {
	png, title, err := drawChart(ctx, c.opts.Charts, n, "slack")
	if err != nil {
		return "", err
	}
	if err := c.UploadPNG(ctx, n.Channel, ts, chartFile(n), title, png); err != nil {
		if errors.Is(err, ErrNoFilesScope) {
			return "", fmt.Errorf("%w: %w", dispatch.ErrSkipped, err)
		}
		return "", err
	}
	return ts, nil
}

// writeChart draws n's chart and writes it to a file in the Console's
// chart folder (made on first use), printing where it is: local mode's
// stand-in for sharing it in Slack.
func (c *Console) writeChart(ctx context.Context, n app.Notification, ts string) (string, error) {
	png, title, err := drawChart(ctx, c.opts.Charts, n, "console")
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.chartDir == "" {
		dir := c.opts.ChartDir
		if dir == "" {
			if dir, err = os.MkdirTemp("", "slabot-charts-"); err != nil {
				return "", &dispatch.DeliveryError{Err: fmt.Errorf("console: chart folder: %w", err)}
			}
		} else if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", &dispatch.DeliveryError{Err: fmt.Errorf("console: chart folder: %w", err)}
		}
		c.chartDir = dir
	}
	c.charts++
	path := filepath.Join(c.chartDir, fmt.Sprintf("%s-%04d.png", strings.TrimSuffix(chartFile(n), ".png"), c.charts))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "", &dispatch.DeliveryError{Err: fmt.Errorf("console: %w", err)}
	}
	channel := cmp.Or(n.Channel, "(no channel: set SLACK_CHANNEL_ID)")
	where := "in " + channel
	if ts != "" {
		where = "in the thread of " + ts + " in " + channel
	}
	var b strings.Builder
	fmt.Fprintf(&b, "── Slack: chart %s\n", where)
	writeIndented(&b, title)
	writeIndented(&b, "PNG: "+path)
	if _, err := io.WriteString(c.w, b.String()); err != nil {
		return "", &dispatch.DeliveryError{Err: fmt.Errorf("console: %w", err)}
	}
	return ts, nil
}
