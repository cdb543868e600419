package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

// episodeLog serves fixed episodes, as the store would for the period.
type episodeLog struct {
	eps      []app.Episode
	from, to time.Time
}

func (l *episodeLog) Episodes(_ context.Context, from, to time.Time) ([]app.Episode, error) {
	l.from, l.to = from, to
	var out []app.Episode
	for _, e := range l.eps {
		if e.Start.Before(to) && (e.Open() || !e.End.Before(from)) {
			out = append(out, e)
		}
	}
	return out, nil
}

// reportWeek: Monday 23 to Monday 30 November 2026, UTC.
func reportWeek() (now time.Time, eps []app.Episode) {
	day := func(d int, h, m int) time.Time { return time.Date(2026, 11, 23+d, h, m, 0, 0, time.UTC) }
	none := time.Time{}
	ep := func(q, media string, m app.Metric, start, ack time.Time, by string, end time.Time, peak, th float64) app.Episode {
		return app.Episode{QueueID: q, MediaType: media, Metric: m, Start: start, AckedAt: ack, AckedBy: by, End: end, Peak: peak, Threshold: th}
	}
	eps = []app.Episode{
		ep(supportQueue, "voice", app.LongestWait, day(0, 9, 0), day(0, 9, 4), "U0LEAD001", day(0, 9, 30), 412, 300),
		ep(supportQueue, "voice", app.LongestWait, day(1, 12, 0), day(1, 12, 10), "U0LEAD002", day(1, 13, 0), 725, 300),
		ep(supportQueue, "voice", app.Waiting, day(2, 8, 0), none, "", day(2, 8, 20), 14, 10),
		ep(billingQueue, "chat", app.ServiceLevel, day(4, 14, 0), day(4, 14, 6), "U0LEAD001", day(4, 14, 30), 61.5, 80),
		// Long before the week: not in it.
		ep(billingQueue, "chat", app.Waiting, day(-20, 9, 0), none, "", day(-20, 9, 5), 12, 10),
	}
	return day(7, 0, 0), eps
}

func TestSlashReport(t *testing.T) {
	now, eps := reportWeek()
	log := &episodeLog{eps: eps}
	q := &chartQueue{}
	h, _ := memServer(t, newMemStore(), func(d *Deps) {
		d.Reports, d.Charts, d.Clock = log, q, app.NewManualClock(now)
	})

	got := runCommand(t, h, "U0LEAD001", "report")
	want := strings.Join([]string{
		"*SLA report, last 7 days* (Mon 23 Nov 00:00 – Mon 30 Nov 00:00 UTC)",
		"2 queues breached, 4 breaches in all.",
		// 30 + 60 + 20 minutes; MTTA (4 + 10) / 2; MTTR (30 + 60 + 20) / 3.
		"• *Support* voice: 3 breaches, 1h 50m in breach · MTTA 7m (2 of 3 acknowledged) · MTTR 36m 40s",
		"   worst: longest wait from Tue 24 Nov 12:00 for 1h, peak 12m 5s (threshold 5m), acknowledged by <@U0LEAD002> after 10m",
		"• *Billing EU* chat: 1 breach, 30m in breach · MTTA 6m (1 of 1 acknowledged) · MTTR 30m",
		"   worst: service level from Fri 27 Nov 14:00 for 30m, peak 61.5% (threshold 80%), acknowledged by <@U0LEAD001> after 6m",
		"The chart of breach minutes per queue and day follows in this channel.",
	}, "\n")
	if got != want {
		t.Errorf("/sla report answered\n%s\nwant\n%s", got, want)
	}
	if !log.from.Equal(now.Add(-7*24*time.Hour)) || !log.to.Equal(now) {
		t.Errorf("episodes read from %s to %s, want the 7 days to %s", log.from, log.to, now)
	}
	// The chart goes through the outbox, as a standalone chart job of
	// the report (without its rows) for the channel.
	ns := q.all()
	if len(ns) != 1 || ns[0].Kind != app.KindChart || ns[0].Channel != "C0SUPPORT1" || ns[0].Alert.ID != "" || ns[0].Chart == nil ||
		ns[0].Chart.Title != "SLA report, last 7 days" || ns[0].Chart.Report == nil {
		t.Fatalf("enqueued %+v, want the report's chart job for C0SUPPORT1", ns)
	}
	if rep := ns[0].Chart.Report; len(rep.Queues) != 2 || len(rep.Days) != 7 || rep.Rows != nil {
		t.Errorf("chart job's report %+v, want 2 queues over 7 days and no rows", rep)
	}

	// One queue, over 30 days: the older Billing EU episode joins in.
	got = runCommand(t, h, "U0LEAD001", `report 30d "billing eu"`)
	if !strings.HasPrefix(got, "*SLA report, last 30 days, Billing EU* (Sat 31 Oct 00:00 – Mon 30 Nov 00:00 UTC)\n1 queue breached, 2 breaches in all.\n"+
		"• *Billing EU* chat: 2 breaches, 35m in breach · MTTA 6m (1 of 2 acknowledged) · MTTR 17m 30s") {
		t.Errorf("/sla report 30d \"billing eu\" answered\n%s", got)
	}
}

func TestSlashReportQuietAndBad(t *testing.T) {
	now, _ := reportWeek()
	q := &chartQueue{}
	h, _ := memServer(t, newMemStore(), func(d *Deps) {
		d.Reports, d.Charts, d.Clock = &episodeLog{}, q, app.NewManualClock(now)
	})
	if got, want := runCommand(t, h, "U0LEAD001", "report 7d"), "*SLA report, last 7 days* (Mon 23 Nov 00:00 – Mon 30 Nov 00:00 UTC)\nNo queue breached its thresholds in that time."; got != want {
		t.Errorf("quiet week: %q, want %q", got, want)
	}
	for text, want := range map[string]string{
		"report 12d":           "A report covers 7d or 30d",
		"report Nowhere":       "Nowhere",
		"report 30d Nowhere 2": "Nowhere 2",
	} {
		if got := runCommand(t, h, "U0LEAD001", text); !strings.Contains(got, want) || strings.Contains(got, "SLA report,") {
			t.Errorf("/sla %s: %q, want an error naming %q", text, got, want)
		}
	}
	if ns := q.all(); len(ns) != 0 {
		t.Errorf("enqueued %+v for reports without breaches", ns)
	}
}
