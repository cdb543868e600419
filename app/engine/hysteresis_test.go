package engine_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
)

func ptr(v float64) *float64 { return &v }

// setRule stores a full threshold (with clear band and volume gate).
func (h *harness) setRule(t app.Threshold) {
	h.t.Helper()
	if t.QueueID == "" {
		t.QueueID = queue
	}
	if err := h.store.SetThreshold(h.ctx, t); err != nil {
		h.t.Fatal(err)
	}
}

// observeVol ingests one observation with its interval's volume.
func (h *harness) observeVol(media string, m app.Metric, v, volume float64) {
	h.t.Helper()
	h.seq++
	_, err := h.engine.Ingest(h.ctx, app.Event{Key: fmt.Sprintf("ev-%d", h.seq), QueueID: queue, QueueName: "Support",
		Observations: []app.Observation{{QueueID: queue, MediaType: media, Metric: m, Value: v, Volume: volume}}})
	if err != nil {
		h.t.Fatal(err)
	}
}

// posts counts the new messages (episodes) among sent notifications.
func posts(sent []string) int {
	n := 0
	for _, s := range sent {
		if strings.HasPrefix(s, "post:") {
			n++
		}
	}
	return n
}

// A value oscillating around the threshold makes one episode with a clear
// band, and one per crossing without: the band is what prevents flapping.
func TestHysteresisOscillation(t *testing.T) {
	wave := []float64{310, 290, 305, 250, 320, 200, 299, 301, 181}
	tests := []struct {
		name     string
		clear    *float64
		episodes int
	}{
		{"with a clear band", ptr(180), 1},
		{"without", nil, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, engine.Options{})
			h.setRule(app.Threshold{Metric: app.LongestWait, Value: 300, Clear: tt.clear})
			var sent []string
			for _, v := range wave {
				h.clock.Advance(10 * time.Second)
				h.observe("voice", app.LongestWait, v)
				h.tick()
				sent = append(sent, h.sent()...)
			}
			if got := posts(sent); got != tt.episodes {
				t.Errorf("%d episodes (%v), want %d", got, sent, tt.episodes)
			}
		})
	}
}

// With a band the alert resolves only at the clear level, for metrics
// breaching above and below.
func TestHysteresisClearBand(t *testing.T) {
	tests := []struct {
		name   string
		rule   app.Threshold
		values []float64
		want   []string // sent after each value; "" for nothing
	}{
		{"wait fires above 300 s, clears at 180 s",
			app.Threshold{Metric: app.LongestWait, Value: 300, Clear: ptr(180)},
			[]float64{301, 250, 181, 180},
			[]string{"post:firing#1", "", "", "update:resolved#1 reply:resolved#1:resolved chart:resolved#1"}},
		{"service level fires below 80 %, clears at 85 %",
			app.Threshold{Metric: app.ServiceLevel, Value: 80, Clear: ptr(85)},
			[]float64{80, 79, 82, 84.9, 85, 81},
			[]string{"", "post:firing#1", "", "", "update:resolved#1 reply:resolved#1:resolved chart:resolved#1", ""}},
		{"the band does not start an episode",
			app.Threshold{Metric: app.Waiting, Value: 10, Clear: ptr(5)},
			[]float64{8, 9, 10, 11, 6, 5, 9},
			[]string{"", "", "", "post:firing#1", "", "update:resolved#1 reply:resolved#1:resolved chart:resolved#1", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, engine.Options{})
			h.setRule(tt.rule)
			for i, v := range tt.values {
				h.clock.Advance(time.Minute) // past coalescing: every update would show
				h.observe("voice", tt.rule.Metric, v)
				got := strings.Join(h.sent(), " ")
				// Updates of the value while breaching are not what this
				// test is about.
				got = strings.TrimSpace(strings.ReplaceAll(got, "update:firing#1", ""))
				if got != tt.want[i] {
					t.Errorf("value %v: sent %q, want %q", v, got, tt.want[i])
				}
			}
		})
	}
}

// Observations of intervals with fewer offered interactions than min are
// ignored: no alert opens, none resolves, the latest value stays.
func TestVolumeGate(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.setRule(app.Threshold{Metric: app.AbandonRate, Value: 10, MinVolume: 20})
	steps := []struct {
		value, volume float64
		want          string
	}{
		{50, 2, ""},               // one abandoned call of two at 7 a.m.
		{50, 19, ""},              // still below the gate
		{50, 20, "post:firing#1"}, // at the gate: counts
		{0, 3, ""},                // a quiet interval neither resolves…
		{40, 3, ""},               // …nor updates
		{5, 30, "update:resolved#1 reply:resolved#1:resolved chart:resolved#1"},
		{60, 0, "post:firing#2"}, // unknown volume: evaluated
	}
	for i, s := range steps {
		h.clock.Advance(time.Minute)
		h.observeVol("voice", app.AbandonRate, s.value, s.volume)
		if got := strings.Join(h.sent(), " "); got != s.want {
			t.Errorf("step %d (%v of %v offered): sent %q, want %q", i, s.value, s.volume, got, s.want)
		}
		if i == 4 {
			qs, err := h.store.QueueStates(h.ctx, []string{queue})
			if err != nil {
				t.Fatal(err)
			}
			if got := qs[0].Latest[app.LatestKey("voice", app.AbandonRate)]; got != 50 {
				t.Errorf("latest abandon rate = %v after gated observations, want the last counted 50", got)
			}
		}
	}
}

func TestThresholdValidate(t *testing.T) {
	tests := []struct {
		name string
		t    app.Threshold
		want string // "" for valid
	}{
		{"plain", app.Threshold{Metric: app.LongestWait, Value: 300}, ""},
		{"wait clears below", app.Threshold{Metric: app.LongestWait, Value: 300, Clear: ptr(180)}, ""},
		{"wait clear above", app.Threshold{Metric: app.LongestWait, Value: 300, Clear: ptr(400)}, "must clear below it: clear 6m 40s is not below 5m"},
		{"wait clear equal", app.Threshold{Metric: app.LongestWait, Value: 300, Clear: ptr(300)}, "not below"},
		{"sl clears above", app.Threshold{Metric: app.ServiceLevel, Value: 80, Clear: ptr(85)}, ""},
		{"sl clear below", app.Threshold{Metric: app.ServiceLevel, Value: 80, Clear: ptr(70)}, "must clear above it: clear 70% is not above 80%"},
		{"agents clear above", app.Threshold{Metric: app.Agents, Value: 3, Clear: ptr(5)}, ""},
		{"waiting clears at zero", app.Threshold{Metric: app.Waiting, Value: 10, Clear: ptr(0)}, ""},
		{"min on a rate", app.Threshold{Metric: app.AbandonRate, Value: 10, MinVolume: 20}, ""},
		{"min on a count", app.Threshold{Metric: app.Waiting, Value: 10, MinVolume: 20}, "min applies to service_level and abandon_rate only"},
		{"fractional min", app.Threshold{Metric: app.ServiceLevel, Value: 80, MinVolume: 2.5}, "whole number"},
		{"negative value", app.Threshold{Metric: app.Waiting, Value: -1}, "non-negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.t.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (!errors.Is(err, app.ErrBadThreshold) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want ErrBadThreshold containing %q", err, tt.want)
			}
		})
	}
}

func TestThresholdString(t *testing.T) {
	th := app.Threshold{QueueID: "q", Metric: app.ServiceLevel, Value: 80, Clear: ptr(85), MinVolume: 20, For: 2 * time.Minute}
	if got, want := th.String(), "q service_level 80% clear 85% min 20 for 2m"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
