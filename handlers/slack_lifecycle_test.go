package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
)

// TestRemindersEndToEnd: an unacknowledged alert gets a reminder in its
// thread every REMIND_AFTER; /sla ack stops them.
func TestRemindersEndToEnd(t *testing.T) {
	e := newClockedE2E(t, engine.Options{RemindAfter: 15 * time.Minute}, []app.QueueInfo{{ID: supportQueue, Name: "Support"}})
	e.clock.Set(time.Date(2030, 3, 1, 10, 0, 0, 0, time.UTC))
	runCommand(t, e.h, "U0LEAD001", "set Support waiting 10")
	e.observe(t, supportQueue, "voice", app.Waiting, 15)
	e.slack.waitFor(t, "chat.postMessage", 1)
	for i := 1; i <= 2; i++ {
		e.clock.Advance(15 * time.Minute)
		e.tick(t)
		e.settle(t)
		posts := e.slack.of("chat.postMessage")
		if len(posts) != 1+i || posts[i].Form.Get("thread_ts") == "" || !strings.Contains(posts[i].Form.Get("text"), "Still breaching") {
			t.Fatalf("after %d intervals, messages = %v; want %d threaded reminders", i, texts(posts), i)
		}
	}
	if got := runCommand(t, e.h, "U0LEAD001", "ack Support"); !strings.Contains(strings.ToLower(got), "acknowledged") {
		t.Fatalf("ack: %s", got)
	}
	e.settle(t)
	e.clock.Advance(time.Hour)
	e.tick(t)
	e.settle(t)
	if posts := e.slack.of("chat.postMessage"); len(posts) != 3 {
		t.Errorf("after ack, messages = %v; want no more reminders", texts(posts))
	}
}

// TestClearBandEndToEnd: with a clear band a value oscillating around the
// threshold is one alert in Slack, resolved once it is back past the band.
func TestClearBandEndToEnd(t *testing.T) {
	e := newClockedE2E(t, engine.Options{}, []app.QueueInfo{{ID: supportQueue, Name: "Support"}})
	e.clock.Set(time.Date(2030, 3, 1, 10, 0, 0, 0, time.UTC))
	if got := runCommand(t, e.h, "U0LEAD001", "set Support waiting 10 clear 5"); !strings.Contains(got, "Threshold set") {
		t.Fatalf("set: %s", got)
	}
	for _, v := range []float64{12, 9, 11, 8, 12, 9} {
		e.clock.Advance(time.Minute)
		e.observe(t, supportQueue, "voice", app.Waiting, v)
	}
	e.settle(t)
	if posts := e.slack.of("chat.postMessage"); len(posts) != 1 {
		t.Fatalf("oscillating inside the band: messages = %v; want one alert", texts(posts))
	}
	e.observe(t, supportQueue, "voice", app.Waiting, 4)
	e.settle(t)
	posts := e.slack.of("chat.postMessage")
	if len(posts) != 2 || posts[1].Form.Get("thread_ts") == "" || !strings.Contains(strings.ToLower(posts[1].Form.Get("text")), "resolved") {
		t.Errorf("back below the band: messages = %v; want the alert and one resolution reply", texts(posts))
	}
}
