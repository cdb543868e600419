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
