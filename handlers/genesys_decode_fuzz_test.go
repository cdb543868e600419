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
		if !reflect.DeepEqual(e, app.Event{}) {
			t.Fatalf("event %d: ignored but %+v", i, e)
		}
		return
	}
	if ev.Format == formatUnknown || e.Key == "" || len(e.Observations) == 0 {
		t.Fatalf("event %d: %+v", i, ev)
	}
	if err := app.ValidateQueueID(e.QueueID); err != nil {
		t.Fatalf("event %d: %v", i, err)
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
