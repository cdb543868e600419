package handlers_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
	"github.com/slabot/slabot/handlers"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// A webhook event stamped longer ago than SLABOT_DEDUP_WINDOW (here 1 h)
// answers 200 "ignored" and changes nothing: its id may be forgotten, so
// it could be a replay. The stamp is the event's own (a metric event's
// timestamp, an EventBridge event's time); an interval's start does not
// age an event.
func TestWebhookStaleEventIgnored(t *testing.T) {
	ctx := context.Background()
	st, err := store.New(ctx, redistest.URL(t), store.Options{Prefix: redistest.Prefix(t), DedupWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng := engine.New(st, app.SystemClock{}, engine.Options{Channel: "C1", DedupWindow: time.Hour,
		BuiltinDefault: &app.Threshold{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 300}})
	srv := httptest.NewServer(handlers.New(handlers.Deps{Ingester: eng, Store: st,
		Webhook: handlers.WebhookAuth{Token: "t0ken"}}))
	t.Cleanup(srv.Close)
	auth := map[string][]string{"Authorization": {"Bearer t0ken"}}
	now := time.Now().UTC()
	stamp := func(ago time.Duration) string { return now.Add(-ago).Format(time.RFC3339) }
	metric := func(id, queue, extra string) string {
		return `{"id":"` + id + `","event_type":"com.genesiscloud.queue.metric"` + extra +
			`,"data":{"queue_id":"` + queue + `","metric":"longest_wait","value":400,"unit":"seconds"}}`
	}
	eventBridge := func(id, queue, sent string) string {
		return `{"version":"0","id":"` + id + `","detail-type":"v2.analytics.queues.{id}.observations",` +
			`"source":"aws.partner/genesys.com/cloud/o/slabot","time":"` + sent + `","detail":{"topicName":"v2.analytics.queues.` + queue +
			`.observations","eventBody":{"group":{"queueId":"` + queue + `","mediaType":"voice"},"data":[{"metrics":[{"metric":"oWaiting","stats":{"count":17}}]}]}}}`
	}
	tests := []struct {
		name, body string
		want       map[string]any
		changes    bool // the queue has latest values afterwards
	}{
		{"metric event stamped 2 hours ago", metric("m-old", "q-old", `,"timestamp":"`+stamp(2*time.Hour)+`"`),
			map[string]any{"status": "ignored"}, false},
		{"EventBridge event sent 2 hours ago", eventBridge("eb-old", "q-eb-old", stamp(2*time.Hour)),
			map[string]any{"status": "ignored"}, false},
		{"metric event stamped a minute ago", metric("m-new", "q-new", `,"timestamp":"`+stamp(time.Minute)+`"`),
			map[string]any{"status": "processed"}, true},
		{"its replay", metric("m-new", "q-new", `,"timestamp":"`+stamp(time.Minute)+`"`),
			map[string]any{"status": "duplicate"}, true},
		{"EventBridge event sent a minute ago", eventBridge("eb-new", "q-eb-new", stamp(time.Minute)),
			map[string]any{"status": "processed"}, true},
		{"metric event with only a 2-hour-old interval", metric("m-interval", "q-interval",
			`,"interval":"`+stamp(2*time.Hour)+`/`+stamp(0)+`"`), map[string]any{"status": "processed"}, true},
		{"a batch of one stale and one fresh event", "[" + metric("b-old", "q-b-old", `,"timestamp":"`+stamp(3*time.Hour)+`"`) + "," +
			metric("b-new", "q-b-new", `,"timestamp":"`+stamp(0)+`"`) + "]",
			map[string]any{"status": "processed", "events": 2.0, "processed": 1.0, "ignored": 1.0}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, got := post(t, srv.URL, []byte(tt.body), auth)
			if code != 200 || fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("answered %d %v, want 200 %v", code, got, tt.want)
			}
		})
	}
	for queue, want := range map[string]bool{"q-old": false, "q-eb-old": false, "q-b-old": false, "q-new": true,
		"q-eb-new": true, "q-interval": true, "q-b-new": true} {
		snap, err := st.Load(ctx, queue, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(snap.Queue.Latest) > 0; got != want {
			t.Errorf("queue %s has latest values %v, want %v", queue, snap.Queue.Latest, want)
		}
	}
}
