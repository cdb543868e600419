package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
)

// Queues of the media-rule tests, besides queue.
const (
	emailQueue = "5b0c1e2a-3d4f-4a5b-8c6d-7e8f9a0b1c2d"
	voiceQueue = "6c1d2f3b-4e5a-4b6c-9d7e-8f9a0b1c2d3e"
)

// observeOn ingests one observation of queueID as a new event.
func (h *harness) observeOn(queueID, name, media string, m app.Metric, v float64) {
	h.t.Helper()
	h.seq++
	_, err := h.engine.Ingest(h.ctx, app.Event{Key: fmt.Sprintf("ev-%d", h.seq), QueueID: queueID, QueueName: name,
		Observations: []app.Observation{{QueueID: queueID, MediaType: media, Metric: m, Value: v}}})
	if err != nil {
		h.t.Fatal(err)
	}
}

// posted drains the outbox and returns the posts as "queue name (media)".
func (h *harness) posted() []string {
	h.t.Helper()
	dels, err := h.store.Receive(h.ctx, "test", 1000, time.Millisecond)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, d := range dels {
		if n := d.Notification; n.Kind == app.KindPost {
			out = append(out, fmt.Sprintf("%s (%s) %s %v>%v", n.Alert.DisplayName(), n.Alert.MediaType, n.Alert.Metric,
				n.Alert.Value, n.Alert.Threshold))
		}
		if err := h.store.Done(h.ctx, d.ID); err != nil {
			h.t.Fatal(err)
		}
	}
	return out
}

// TestBuiltinSparesEmail: with no rules set, the built-in five-minute wait
// pages on a voice queue waiting six minutes, not on an email queue whose
// oldest email is two hours old (its target is hours, not minutes).
func TestBuiltinSparesEmail(t *testing.T) {
	h := newHarness(t, engine.Options{BuiltinDefault: &app.Threshold{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 300}})
	h.observeOn(emailQueue, "Claims email", app.Email, app.LongestWait, 7200)
	h.observeOn(emailQueue, "Claims email", app.Callback, app.LongestWait, 7200)
	h.observeOn(emailQueue, "Claims email", app.Message, app.LongestWait, 7200)
	h.observeOn(voiceQueue, "Support", app.Voice, app.LongestWait, 360)
	h.observeOn(voiceQueue, "Support", app.Chat, app.LongestWait, 400)
	h.observeOn(queue, "Relay", "", app.LongestWait, 500) // a metric event: no media type
	got := h.posted()
	want := []string{"Support (voice) longest_wait 360>300", "Support (chat) longest_wait 400>300", "Relay () longest_wait 500>300"}
	if !equal(got, want) {
		t.Errorf("posted %q, want %q", got, want)
	}
}

// TestQueueMediaRuleOverridesDefault: a queue's own email rule beats the
// default's email rule, which still applies to the other queues; a rule
// stored without a media type applies to every media type.
func TestQueueMediaRuleOverridesDefault(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.setRule(app.Threshold{QueueID: app.DefaultQueue, MediaType: app.Email, Metric: app.LongestWait, Value: 3600})
	h.setRule(app.Threshold{QueueID: emailQueue, MediaType: app.Email, Metric: app.LongestWait, Value: 4 * 3600})
	h.setRule(app.Threshold{QueueID: voiceQueue, Metric: app.Waiting, Value: 5}) // every media type
	h.observeOn(emailQueue, "Claims email", app.Email, app.LongestWait, 7200)
	h.observeOn(voiceQueue, "Support", app.Email, app.LongestWait, 7200)
	h.observeOn(voiceQueue, "Support", app.Voice, app.LongestWait, 7200) // no voice rule, no built-in
	h.observeOn(voiceQueue, "Support", app.Callback, app.Waiting, 6)
	h.observeOn(voiceQueue, "Support", app.Voice, app.Waiting, 7)
	got := h.posted()
	want := []string{"Support (email) longest_wait 7200>3600", "Support (callback) waiting 6>5", "Support (voice) waiting 7>5"}
	if !equal(got, want) {
		t.Errorf("posted %q, want %q", got, want)
	}
}

// directory saves the queue directory as the poller does.
func (h *harness) directory(qs ...app.QueueInfo) {
	h.t.Helper()
	if err := h.store.SaveQueues(h.ctx, qs); err != nil {
		h.t.Fatal(err)
	}
}

func target(pct float64, within time.Duration) app.ServiceLevelTarget {
	return app.ServiceLevelTarget{Percent: pct, Within: within}
}

// TestVoiceServiceLevelTarget: "default voice sl target min 20" alerts a
// voice queue below its own target percentage with enough volume, not
// below the volume gate, not above the target, and never a queue whose
// target is unknown.
func TestVoiceServiceLevelTarget(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.directory(
		app.QueueInfo{ID: voiceQueue, Name: "Support", ServiceLevels: map[string]app.ServiceLevelTarget{
			"call": target(80, 20*time.Second), "email": target(90, 24*time.Hour)}},
		app.QueueInfo{ID: emailQueue, Name: "Sales", ServiceLevels: map[string]app.ServiceLevelTarget{
			"call": target(60, 30*time.Second)}},
	)
	h.setRule(app.Threshold{QueueID: app.DefaultQueue, MediaType: app.Voice, Metric: app.ServiceLevel, Target: true, MinVolume: 20})
	ingest := func(queueID, media string, v, volume float64) {
		h.t.Helper()
		h.seq++
		if _, err := h.engine.Ingest(h.ctx, app.Event{Key: fmt.Sprintf("ev-%d", h.seq), QueueID: queueID,
			Observations: []app.Observation{{QueueID: queueID, MediaType: media, Metric: app.ServiceLevel, Value: v, Volume: volume}}}); err != nil {
			h.t.Fatal(err)
		}
	}
	ingest(voiceQueue, app.Voice, 62, 10) // below the gate
	if got := h.posted(); len(got) != 0 {
		t.Fatalf("posted below the volume gate: %q", got)
	}
	ingest(emailQueue, app.Voice, 62, 40) // above Sales' own 60 %
	ingest(queue, app.Voice, 10, 40)      // no target known
	ingest(voiceQueue, app.Email, 50, 40) // no rule for email
	if got := h.posted(); len(got) != 0 {
		t.Fatalf("posted %q, want nothing", got)
	}
	ingest(voiceQueue, app.Voice, 62, 25)
	ingest(emailQueue, app.Voice, 55, 25)
	want := []string{"Support (voice) service_level 62>80", "Sales (voice) service_level 55>60"}
	if got := h.posted(); !equal(got, want) {
		t.Errorf("posted %q, want %q", got, want)
	}
}

// TestEmailWaitTarget: "default email wait target" holds each email queue
// to its own target duration.
func TestEmailWaitTarget(t *testing.T) {
	h := newHarness(t, engine.Options{BuiltinDefault: &app.Threshold{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 300}})
	h.directory(
		app.QueueInfo{ID: voiceQueue, Name: "Billing email", ServiceLevels: map[string]app.ServiceLevelTarget{"email": target(90, time.Hour)}},
		app.QueueInfo{ID: emailQueue, Name: "Claims email", ServiceLevels: map[string]app.ServiceLevelTarget{"email": target(90, 24*time.Hour)}},
	)
	h.setRule(app.Threshold{QueueID: app.DefaultQueue, MediaType: app.Email, Metric: app.LongestWait, Target: true})
	h.observeOn(voiceQueue, "Billing email", app.Email, app.LongestWait, 7200)
	h.observeOn(emailQueue, "Claims email", app.Email, app.LongestWait, 7200)
	h.observeOn(queue, "Unpolled", app.Email, app.LongestWait, 7200) // target unknown: not alerted on a guess
	want := []string{"Billing email (email) longest_wait 7200>3600"}
	if got := h.posted(); !equal(got, want) {
		t.Errorf("posted %q, want %q", got, want)
	}
	h.observeOn(emailQueue, "Claims email", app.Email, app.LongestWait, 25*3600)
	want = []string{"Claims email (email) longest_wait 90000>86400"}
	if got := h.posted(); !equal(got, want) {
		t.Errorf("posted %q, want %q", got, want)
	}
}
