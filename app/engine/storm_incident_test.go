package engine_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
	"github.com/slabot/slabot/slackapi"
)

// incident is the storm of issue 13 item 6: 60 queues breach 100 ms
// apart, and the first 5 post on their own before it is a storm (a
// threshold of 6), as the digest's first alerts always do.
var incident = engine.Options{StormThreshold: 6, RemindAfter: 15 * time.Minute}

const incidentQueues, incidentLeads = 60, 5

// drain empties the outbox and returns the notifications as sent.
func (h *harness) drain() []app.Notification {
	h.t.Helper()
	dels, err := h.store.Receive(h.ctx, "test", 1000, time.Millisecond)
	if err != nil {
		h.t.Fatal(err)
	}
	out := make([]app.Notification, 0, len(dels))
	for _, d := range dels {
		out = append(out, d.Notification)
		if err := h.store.Done(h.ctx, d.ID); err != nil {
			h.t.Fatal(err)
		}
	}
	return out
}

// startIncident makes the storm, lets the digest's time-driven pass take
// in its first alerts, and returns the digest's ID and the alerts that
// posted on their own.
func (h *harness) startIncident() (digestID string, leads []app.Alert) {
	h.t.Helper()
	h.set(app.DefaultQueue, app.Waiting, 10, 0)
	h.breachAll(incidentQueues)
	for _, n := range h.drain() {
		switch n.Kind {
		case app.KindPost:
			leads = append(leads, n.Alert)
		case app.KindDigestPost:
			digestID = n.Digest.ID
		}
	}
	if len(leads) != incidentLeads || digestID == "" {
		h.t.Fatalf("the storm posted %d alerts on their own and digest %q; want %d and a digest", len(leads), digestID, incidentLeads)
	}
	h.clock.Advance(5 * time.Second)
	h.tick()
	var last *app.Digest
	for _, n := range h.drain() {
		if n.Kind == app.KindDigestUpdate {
			last = n.Digest
		}
	}
	if last == nil || len(last.Members) != incidentQueues || last.Counts().Firing != incidentQueues {
		h.t.Fatalf("digest update = %s, want all %d alerts of the storm firing", digestSummary(last), incidentQueues)
	}
	return digestID, leads
}

// digestSummary is a digest as failures show it: its members' counts.
func digestSummary(d *app.Digest) string {
	if d == nil {
		return "none"
	}
	return fmt.Sprintf("%s, %d members: %+v", d.ID, len(d.Members), d.Counts())
}

// messageText is what Slack shows of an alert notification's message.
func messageText(t *testing.T, n app.Notification) string {
	t.Helper()
	text, blocks := slackapi.AlertMessage(n.Alert, n.At, "")
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(blocks); err != nil {
		t.Fatal(err)
	}
	return text + "\n" + b.String()
}

// leadUpdates are the updates of the leads' own messages in ns, by queue.
func leadUpdates(t *testing.T, ns []app.Notification, leads []app.Alert) map[string]string {
	t.Helper()
	out := make(map[string]string)
	for _, n := range ns {
		for _, l := range leads {
			if n.Kind == app.KindUpdate && n.Alert.ID == l.ID {
				out[l.QueueID] = messageText(t, n)
			}
		}
	}
	return out
}

// reminders are the reminders in ns: the digest's, and the alerts' own.
func reminders(ns []app.Notification) (digest []app.Notification, own int) {
	for _, n := range ns {
		switch {
		case n.Kind == app.KindDigestReply && n.Reason == "reminder":
			digest = append(digest, n)
		case n.Kind == app.KindReply && n.Reason == "reminder":
			own++
		}
	}
	return digest, own
}

// quiet runs the time-driven pass over the next intervals and fails on
// any reminder.
func (h *harness) quiet(intervals int) {
	h.t.Helper()
	for range intervals {
		h.clock.Advance(incident.RemindAfter)
		h.tick()
		h.tick()
		if d, own := reminders(h.drain()); len(d)+own > 0 {
			h.t.Errorf("at %v: %d digest reminders and %d of alerts, want none", h.clock.Now(), len(d), own)
		}
	}
}

// TestStormAckAllCoversItsFirstAlerts: Acknowledge all on the digest
// acknowledges all 60 alerts of the storm, the 5 posted on their own
// too, whose messages say who acknowledged them; nobody is reminded after.
func TestStormAckAllCoversItsFirstAlerts(t *testing.T) {
	h := newHarness(t, incident)
	id, leads := h.startIncident()
	acked, err := h.engine.AckDigest(h.ctx, id, steve)
	if err != nil || len(acked) != incidentQueues {
		t.Fatalf("AckDigest = %d alerts, %v; want %d", len(acked), err, incidentQueues)
	}
	h.clock.Advance(5 * time.Second)
	h.tick()
	got := h.drain()
	msgs := leadUpdates(t, got, leads)
	for _, l := range leads {
		if m := msgs[l.QueueID]; !strings.Contains(m, "(acknowledged)") || !strings.Contains(m, "Acknowledged by <@"+steve.UserID+"> at <!date^") {
			t.Errorf("message of %s, posted before the storm, after Acknowledge all:\n%s", l.QueueID, m)
		}
	}
	var last *app.Digest
	for _, n := range got {
		if n.Kind == app.KindDigestUpdate {
			last = n.Digest
		}
	}
	if last == nil || last.Counts().Acknowledged != incidentQueues || last.Counts().Firing != 0 {
		t.Errorf("digest after Acknowledge all = %s, want %d acknowledged", digestSummary(last), incidentQueues)
	}
	open, err := h.store.OpenAlerts(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range open {
		if a.State != app.StateAcknowledged || a.AckedBy != steve.UserID {
			t.Errorf("alert of %s is %s (by %q) after Acknowledge all", a.QueueID, a.State, a.AckedBy)
		}
	}
	h.quiet(4)
}

// TestStormSnoozeAllCoversItsFirstAlerts: Snooze all snoozes the queues of
// all 60 alerts, the 5 posted on their own too, whose messages say who
// snoozed them until when; nobody is reminded while it lasts.
func TestStormSnoozeAllCoversItsFirstAlerts(t *testing.T) {
	h := newHarness(t, incident)
	id, leads := h.startIncident()
	until, queues, err := h.engine.SnoozeDigest(h.ctx, id, 2*time.Hour, steve)
	if err != nil || len(queues) != incidentQueues {
		t.Fatalf("SnoozeDigest = %d queues, %v; want %d", len(queues), err, incidentQueues)
	}
	h.clock.Advance(5 * time.Second)
	h.tick()
	got := h.drain()
	msgs := leadUpdates(t, got, leads)
	for _, l := range leads {
		want := "Snoozed by <@" + steve.UserID + "> until <!date^" + strconv.FormatInt(until.Unix(), 10)
		if m := msgs[l.QueueID]; !strings.Contains(m, "(snoozed)") || !strings.Contains(m, want) {
			t.Errorf("message of %s, posted before the storm, after Snooze all lacks %q:\n%s", l.QueueID, want, m)
		}
	}
	var last *app.Digest
	for _, n := range got {
		if n.Kind == app.KindDigestUpdate {
			last = n.Digest
		}
	}
	if last == nil || last.Counts().Snoozed != incidentQueues {
		t.Errorf("digest after Snooze all = %s, want %d snoozed", digestSummary(last), incidentQueues)
	}
	h.quiet(7) // 1 h 45 m of the 2 h snooze
}

// TestStormRemindsOncePerInterval: an unacknowledged storm reminds once
// per interval, in its digest's thread, counting all 60 alerts still
// firing; its first alerts, posted on their own, do not remind
// themselves. Two replicas run the time-driven pass at once.
func TestStormRemindsOncePerInterval(t *testing.T) {
	h := newHarness(t, incident)
	id, _ := h.startIncident()
	other := engine.New(h.store, h.clock, engine.Options{Channel: "C1", StormThreshold: incident.StormThreshold, RemindAfter: incident.RemindAfter})
	for i := range 3 {
		h.clock.Advance(incident.RemindAfter)
		var wg sync.WaitGroup
		for _, e := range []*engine.Engine{h.engine, other, h.engine, other} {
			wg.Go(func() {
				if err := e.Tick(h.ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		digest, own := reminders(h.drain())
		if own != 0 {
			t.Errorf("interval %d: %d alerts reminded on their own, want none (the storm reminds)", i+1, own)
		}
		if len(digest) != 1 {
			t.Fatalf("interval %d: %d digest reminders, want 1", i+1, len(digest))
		}
		if d := digest[0].Digest; d.ID != id || d.Counts().Firing != incidentQueues {
			t.Errorf("interval %d: reminder in %s counts %d firing, want %d in %s", i+1, d.ID, d.Counts().Firing, incidentQueues, id)
		}
	}
}
