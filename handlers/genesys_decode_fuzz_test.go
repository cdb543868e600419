package handlers

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/slabot/slabot/app"
)

// FuzzDecodeWebhook checks what the webhook handler relies on, whatever the
// body: no panic; an error wraps app.ErrBadEvent in one line; and every
// event to evaluate names a valid queue, carries a key and at least one
// finite, non-negative observation of that queue; a batch decodes as its
// elements do alone.
func FuzzDecodeWebhook(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "webhook-*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`[{"id":"a","event_type":"com.genesiscloud.queue.metric","data":{"queue_id":"q","metric":"sl","value":1e2,"unit":"ms"}},{"topicName":"x"}]`))
	f.Add([]byte(`[{"s":"\"],\\"},{"detail-type":"d","source":"aws.partner/genesys.com","detail":{"topicName":"v2.analytics.queues.q.observations","eventBody":{"data":[{"metrics":[{"metric":"oServiceLevel","stats":{"ratio":0.5,"denominator":2}}]}]}}}]`))
	f.Add([]byte(strings.Repeat("[", 1000)))
	// Issue 14: stamps, reserved queue IDs, long ids.
	f.Add([]byte(`{"id":"t","event_type":"com.genesiscloud.queue.metric","timestamp":"2999-01-01T00:00:00Z","data":{"queue_id":"q","metric":"waiting","value":1}}`))
	f.Add([]byte(`{"id":"t","event_type":"com.genesiscloud.queue.metric","timestamp":1.7e9,"data":{"queue_id":"q","metric":"waiting","value":1,"interval":"x/y"}}`))
	f.Add([]byte(`{"id":"t","event_type":"com.genesiscloud.queue.metric","timestamp":"soon","data":{"queue_id":"ALL","metric":"waiting","value":1}}`))
	f.Add([]byte(`{"id":"` + strings.Repeat("i", 257) + `","event_type":"com.genesiscloud.queue.metric","data":{"queue_id":"q","metric":"wait","value":1}}`))
	f.Add([]byte(`{"id":"d","event_type":"com.genesiscloud.queue.metric","data":{"queue_id":"Default","metric":"wait","value":1}}`))
	f.Add([]byte(`{"id":"a","event_type":"com.genesiscloud.queue.metric","data":{"queue_id":"All","metric":"wait","value":1}}`))
	f.Add([]byte(`{"topicName":"v2.analytics.queues.all.observations","eventBody":{"data":[{"interval":"2026-12-04T12:00:00Z/2026-12-04T12:30:00Z","metrics":[{"metric":"oWaiting","stats":{"count":1}}]}]},"metadata":{"CorrelationId":"` + strings.Repeat("c", 300) + `"}}`))
	f.Add([]byte(`{"detail-type":"d","source":"aws.partner/genesys.com","id":"e","time":"2999-01-01T00:00:00Z","detail":{"topicName":"v2.analytics.queues.q.observations","eventBody":{"data":[{"interval":"bad","metrics":[{"metric":"oWaiting","stats":{"count":1}}]}]}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := decodeWebhook(body)
		if err != nil {
			if !errors.Is(err, app.ErrBadEvent) || strings.ContainsAny(err.Error(), "\r\n") || events != nil {
				t.Fatalf("decodeWebhook = %v, %q; want nil and a one-line app.ErrBadEvent", events, err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON: %d events", len(events))
		}
		if len(events) == 0 || len(events) > maxEvents {
			t.Fatalf("%d events", len(events))
		}
		for i, ev := range events {
			checkDecoded(t, i, ev)
		}
		// A batch decodes as its elements do alone, split by encoding/json.
		var raws []json.RawMessage
		if json.Unmarshal(body, &raws) == nil {
			for i, raw := range raws {
				if alone, err := decodeEvent(raw); err != nil || !reflect.DeepEqual(alone, events[i]) {
					t.Fatalf("event %d alone = %+v, %v; in the batch %+v", i, alone, err, events[i])
				}
			}
		}
		if again, _ := decodeWebhook(body); !reflect.DeepEqual(again, events) {
			t.Fatalf("decoding twice differs:\n%+v\n%+v", events, again)
		}
	})
}

func checkDecoded(t *testing.T, i int, ev webhookEvent) {
	t.Helper()
	formats := []string{formatMetric, formatNotification, formatEventBridge, formatUnknown}
	if !slices.Contains(formats, ev.Format) {
		t.Fatalf("event %d: format %q", i, ev.Format)
	}
	e := ev.Event
	if ev.Ignored {
		if !reflect.DeepEqual(e, app.Event{}) || ev.ObservedAt != nil || !ev.Sent.IsZero() {
			t.Fatalf("event %d: ignored but %+v", i, ev)
		}
		return
	}
	if ev.Format == formatUnknown || e.Key == "" || len(e.Observations) == 0 || len(ev.ObservedAt) != len(e.Observations) {
		t.Fatalf("event %d: %+v", i, ev)
	}
	if len(e.Key) > maxEventID && !strings.HasPrefix(e.Key, hashPrefix) {
		t.Fatalf("event %d: key of %d bytes", i, len(e.Key))
	}
	for _, at := range ev.ObservedAt {
		if at.After(ev.Sent) {
			t.Fatalf("event %d: observed at %v, after its newest stamp %v", i, at, ev.Sent)
		}
	}
	if err := app.ValidateQueueID(e.QueueID); err != nil || strings.EqualFold(e.QueueID, app.AllQueues) {
		t.Fatalf("event %d: queue %q: %v", i, e.QueueID, err)
	}
	if len(e.QueueName) > maxQueueName || strings.IndexFunc(e.QueueName, unicode.IsControl) >= 0 {
		t.Fatalf("event %d: queue name %q", i, e.QueueName)
	}
	for _, o := range e.Observations {
		if o.QueueID != e.QueueID || !slices.Contains(app.Metrics, o.Metric) ||
			math.IsNaN(o.Value) || math.IsInf(o.Value, 0) || o.Value < 0 || !validMediaType(o.MediaType) {
			t.Fatalf("event %d: observation %+v", i, o)
		}
	}
}
