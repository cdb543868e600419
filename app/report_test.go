package app_test

import (
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

// at is a moment of the week of Monday 23 November 2026 (UTC): day 0 is
// that Monday.
func at(day int, clock string) time.Time {
	t, err := time.Parse("15:04", clock)
	if err != nil {
		panic(err)
	}
	return time.Date(2026, 11, 23+day, t.Hour(), t.Minute(), 0, 0, time.UTC)
}

// scriptedWeek is a week of episodes whose figures are worked out by hand
// in TestBuildReportScriptedWeek.
func scriptedWeek() []app.Episode {
	const support, billing = "q-support", "q-billing"
	ep := func(q, media string, m app.Metric, start, ack, end time.Time, by string) app.Episode {
		return app.Episode{QueueID: q, MediaType: media, Metric: m, Start: start, AckedAt: ack, AckedBy: by, End: end, Peak: 400, Threshold: 300}
	}
	none := time.Time{}
	return []app.Episode{
		// Support voice: three episodes, two acknowledged.
		ep(support, "voice", app.LongestWait, at(0, "09:00"), at(0, "09:04"), at(0, "09:30"), "U1"),
		ep(support, "voice", app.LongestWait, at(1, "12:00"), at(1, "12:10"), at(1, "13:00"), "U2"),
		ep(support, "voice", app.Waiting, at(2, "08:00"), none, at(2, "08:20"), ""),
		// Support chat: acknowledged after a minute, still open at the end.
		ep(support, "chat", app.LongestWait, at(3, "10:00"), at(3, "10:01"), none, "U1"),
		// Billing voice: one began the Sunday before; two overlap on Friday.
		ep(billing, "voice", app.LongestWait, at(-1, "23:00"), at(-1, "23:30"), at(0, "01:00"), "U3"),
		ep(billing, "voice", app.Waiting, at(4, "14:00"), at(4, "14:06"), at(4, "14:30"), "U3"),
		ep(billing, "voice", app.ServiceLevel, at(4, "14:15"), at(4, "14:20"), at(4, "14:45"), "U1"),
		// Outside the week: ended the Saturday before, began as it ends.
		ep(billing, "voice", app.Waiting, at(-2, "10:00"), none, at(-2, "11:00"), ""),
		ep(support, "voice", app.Waiting, at(7, "00:00"), none, none, ""),
	}
}

func TestBuildReportScriptedWeek(t *testing.T) {
	from, to := at(0, "00:00"), at(7, "00:00")
	names := map[string]string{"q-support": "Support", "q-billing": "Billing"}
	rep := app.BuildReport(scriptedWeek(), from, to, time.UTC, names)

	type want struct {
		name, media          string
		breaches, open       int
		inBreach, mtta, mttr time.Duration
		acked, resolved      int
		worstStart           time.Time
	}
	wants := []want{
		// Thursday 10:00 to the end: 14 h + 3 days = 86 h in breach.
		{"Support", "chat", 1, 1, 86 * time.Hour, time.Minute, 0, 1, 0, at(3, "10:00")},
		// 30 + 60 + 20 min; MTTA (4 + 10) / 2; MTTR (30 + 60 + 20) / 3.
		{"Support", "voice", 3, 0, 110 * time.Minute, 7 * time.Minute, 36*time.Minute + 40*time.Second, 2, 3, at(1, "12:00")},
		// 60 min of Monday (from midnight) + 14:00–14:45 Friday (the
		// overlap counts once); MTTA (30 + 6 + 5) / 3; MTTR (120 + 30 + 30) / 3.
		{"Billing", "voice", 3, 0, 105 * time.Minute, 13*time.Minute + 40*time.Second, time.Hour, 3, 3, at(-1, "23:00")},
	}
	if len(rep.Rows) != len(wants) {
		t.Fatalf("%d rows, want %d: %+v", len(rep.Rows), len(wants), rep.Rows)
	}
	for i, w := range wants {
		r := rep.Rows[i]
		got := want{r.Name(), r.MediaType, r.Breaches, r.Open, r.InBreach, r.MTTA, r.MTTR, r.Acked, r.Resolved, r.Worst.Start}
		if got != w {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got, w)
		}
	}

	if len(rep.Days) != 7 || !rep.Days[0].Equal(from) || !rep.Days[6].Equal(at(6, "00:00")) {
		t.Errorf("days = %v", rep.Days)
	}
	wantMinutes := map[string][]float64{
		"Support": {30, 60, 20, 14 * 60, 1440, 1440, 1440},
		"Billing": {60, 0, 0, 0, 45, 0, 0},
	}
	if len(rep.Queues) != 2 || rep.Queues[0].QueueName != "Support" {
		t.Fatalf("chart queues = %+v, want Support then Billing", rep.Queues)
	}
	for _, q := range rep.Queues {
		w := wantMinutes[q.QueueName]
		for d := range w {
			if q.Minutes[d] != w[d] {
				t.Errorf("%s day %d: %v breach minutes, want %v", q.QueueName, d, q.Minutes[d], w[d])
			}
		}
	}
}

func TestBuildReportTopTenAndTimeZone(t *testing.T) {
	// Eleven queues; queue k breaches k minutes at 23:30 UTC on Monday,
	// which is Tuesday 00:30 in Auckland (UTC+13 in November).
	var eps []app.Episode
	for k := 1; k <= 11; k++ {
		start := at(0, "23:30")
		eps = append(eps, app.Episode{QueueID: string(rune('a' + k - 1)), MediaType: "voice", Metric: app.Waiting,
			Start: start, End: start.Add(time.Duration(k) * time.Minute)})
	}
	akl, err := time.LoadLocation("Pacific/Auckland")
	if err != nil {
		t.Skip("no tz database:", err)
	}
	rep := app.BuildReport(eps, at(0, "00:00"), at(7, "00:00"), akl, nil)
	if len(rep.Queues) != app.ReportTopQueues {
		t.Fatalf("%d chart queues, want %d", len(rep.Queues), app.ReportTopQueues)
	}
	if rep.Queues[0].QueueID != "k" || rep.Queues[9].QueueID != "b" {
		t.Errorf("chart queues from %s to %s, want k (11 min) to b (2 min)", rep.Queues[0].QueueID, rep.Queues[9].QueueID)
	}
	// Auckland days: Mon 13:00 UTC+13 starts the first (Monday 00:00 UTC is
	// Monday 13:00 there), so 23:30 UTC falls on the second day.
	if got := rep.Queues[0].Minutes[1]; got != 11 {
		t.Errorf("queue k's minutes on the second Auckland day = %v (all: %v), want 11", got, rep.Queues[0].Minutes)
	}
}
