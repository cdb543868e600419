package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

const (
	sampleQueue          = "2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10"
	sampleTopic          = "v2.analytics.queues." + sampleQueue + ".observations"
	genesysPartnerSource = "aws.partner/genesys.com/cloud/5a9d8c7b-6e5f-4a3b-2c1d-0e9f8a7b6c5d/slabot"
)

func readWebhookFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hashOf is the key an event without an id gets, computed independently.
func sha256Key(raw []byte) string {
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// elements returns the array elements of body exactly as sent.
func arrayElements(t *testing.T, body []byte) []json.RawMessage {
	t.Helper()
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		t.Fatal(err)
	}
	return raws
}

// notification wraps metrics (a JSON array) in an observations envelope
// for sampleQueue with the given group.
func observationsEnvelope(group, metrics string) string {
	return `{"topicName":"` + sampleTopic + `","eventBody":{"group":` + group +
		`,"data":[{"interval":"2026-11-27T10:00:00.000Z/2026-11-27T10:30:00.000Z","metrics":` + metrics + `}]},` +
		`"metadata":{"CorrelationId":"corr-1"}}`
}

// metricEvent is a metric event whose data object is data.
func metricEventWith(data string) string {
	return `{"id":"ev-1","event_type":"com.genesiscloud.queue.metric","data":` + data + `}`
}

func observation(queueID, media string, m app.Metric, v float64) app.Observation {
	return app.Observation{QueueID: queueID, MediaType: media, Metric: m, Value: v}
}

// withVolume sets the interval volume a rate observation is computed
// over: the service level's denominator, the interactions offered.
func withVolume(o app.Observation, volume float64) app.Observation {
	o.Volume = volume
	return o
}

func decodedEvent(format, key, queueID, name string, o ...app.Observation) webhookEvent {
	return webhookEvent{Format: format, Event: app.Event{Key: key, QueueID: queueID, QueueName: name, Observations: o}}
}

func ignoredEvent(format string) webhookEvent { return webhookEvent{Format: format, Ignored: true} }

// correlationOnly checks that each bare notification keyed by its
// CorrelationId carries the eventBody hash (TestDecodeWebhookReplayKey
// checks its value) and drops the hash, so tables can name the id alone.
func correlationOnly(t *testing.T, events []webhookEvent) []webhookEvent {
	t.Helper()
	for i := range events {
		ev := &events[i]
		if ev.Format != formatNotification || ev.Ignored || strings.HasPrefix(ev.Event.Key, "sha256:") {
			continue
		}
		id, sum, ok := strings.Cut(ev.Event.Key, ":")
		if _, err := hex.DecodeString(sum); !ok || err != nil || len(sum) != 16 {
			t.Errorf("notification key %q is not <CorrelationId>:<16 hex digits>", ev.Event.Key)
			continue
		}
		ev.Event.Key = id
	}
	return events
}

// rounded drops float noise such as 0.62*100 = 62.00000000000001, and
// the times events carry (TestDecodeStamps checks those).
func roundValues(events []webhookEvent) []webhookEvent {
	for i := range events {
		events[i].ObservedAt, events[i].Sent, events[i].Event.SentAt = nil, time.Time{}, time.Time{}
		for j := range events[i].Event.Observations {
			o := &events[i].Event.Observations[j]
			o.Value = math.Round(o.Value*1e9) / 1e9
		}
	}
	return events
}

func TestDecodeWebhook(t *testing.T) {
	msBody := readWebhookFixture(t, "webhook-metric-event-ms.json")
	batch := readWebhookFixture(t, "webhook-batch-mixed.json")
	batchRaw := arrayElements(t, batch)
	tests := []struct {
		name string
		body string
		want []webhookEvent
	}{
		{"metric event", string(readWebhookFixture(t, "webhook-metric-event.json")), []webhookEvent{
			decodedEvent(formatMetric, "4b7e1f0c-2a55-4c1e-9d0e-6b1f3d2a9c01", sampleQueue, "Support",
				observation(sampleQueue, "", app.LongestWait, 312.5)),
		}},
		{"metric event in ms by alias, hashed", string(msBody), []webhookEvent{
			decodedEvent(formatMetric, sha256Key(bytes.TrimSpace(msBody)), "7c1e9a2b-3d4f-4e5a-8b6c-9d0e1f2a3b4c", "Billing EU",
				observation("7c1e9a2b-3d4f-4e5a-8b6c-9d0e1f2a3b4c", "", app.LongestWait, 95.25)),
		}},
		{"instant observations", string(readWebhookFixture(t, "webhook-notification-observations-instant.json")), []webhookEvent{
			decodedEvent(formatNotification, "7d0c3b8e-54a1-4f7e-a1c2-3e9b8d7f6a55", sampleQueue, "",
				observation(sampleQueue, "voice", app.Waiting, 14)),
		}},
		{"interval observations", string(readWebhookFixture(t, "webhook-notification-observations-interval.json")), []webhookEvent{
			decodedEvent(formatNotification, "c3e1a7b2-9d84-4f61-b0e5-2a7c9d1e3f44", sampleQueue, "",
				withVolume(observation(sampleQueue, "voice", app.ServiceLevel, 62), 42), withVolume(observation(sampleQueue, "voice", app.AbandonRate, 12.5), 48)),
		}},
		{"users observations summed over qualifiers", string(readWebhookFixture(t, "webhook-notification-observations-users.json")), []webhookEvent{
			decodedEvent(formatNotification, "0a9f6e2d-1c3b-4d5e-8f7a-6b5c4d3e2f10", sampleQueue, "",
				observation(sampleQueue, "", app.Agents, 10)),
		}},
		{"eventbridge", string(readWebhookFixture(t, "webhook-eventbridge-observations.json")), []webhookEvent{
			decodedEvent(formatEventBridge, "6efd5506-3fd6-09a1-5599-09ae48bd6dd8", sampleQueue, "",
				observation(sampleQueue, "voice", app.Waiting, 17)),
		}},
		{"eventbridge from another source", string(readWebhookFixture(t, "webhook-eventbridge-other-source.json")),
			[]webhookEvent{ignoredEvent(formatEventBridge)}},
		{"heartbeat topic", string(readWebhookFixture(t, "webhook-notification-heartbeat.json")),
			[]webhookEvent{ignoredEvent(formatNotification)}},
		{"mixed batch", string(batch), []webhookEvent{
			decodedEvent(formatMetric, sha256Key(batchRaw[0]), "q-support", "", observation("q-support", "", app.Waiting, 3)),
			decodedEvent(formatNotification, "5e4d3c2b-1a09-4f8e-b7d6-c5b4a3928170", sampleQueue, "",
				observation(sampleQueue, "chat", app.Waiting, 2)),
			decodedEvent(formatEventBridge, "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d", sampleQueue, "",
				observation(sampleQueue, "", app.Agents, 7)),
			ignoredEvent(formatUnknown),
			{Format: formatMetric, Ignored: true, UnknownMetric: "occupancy"},
		}},
		{"batch decoded in one pass", "[" + string(readWebhookFixture(t, "webhook-metric-event.json")) + "," +
			string(readWebhookFixture(t, "webhook-eventbridge-other-source.json")) + "," + string(readWebhookFixture(t, "webhook-eventbridge-observations.json")) + "]",
			[]webhookEvent{
				decodedEvent(formatMetric, "4b7e1f0c-2a55-4c1e-9d0e-6b1f3d2a9c01", sampleQueue, "Support", observation(sampleQueue, "", app.LongestWait, 312.5)),
				ignoredEvent(formatEventBridge),
				decodedEvent(formatEventBridge, "6efd5506-3fd6-09a1-5599-09ae48bd6dd8", sampleQueue, "", observation(sampleQueue, "voice", app.Waiting, 17)),
			}},
		{"service level with zero denominator is skipped",
			observationsEnvelope(`{"queueId":"`+sampleQueue+`"}`, `[{"metric":"oServiceLevel","stats":{"ratio":0,"numerator":0,"denominator":0,"target":0.8}},{"metric":"oWaiting","stats":{"count":0}}]`),
			[]webhookEvent{decodedEvent(formatNotification, "corr-1", sampleQueue, "", observation(sampleQueue, "", app.Waiting, 0))}},
		{"only a zero-denominator service level",
			observationsEnvelope(`{"queueId":"`+sampleQueue+`"}`, `[{"metric":"oServiceLevel","stats":{"ratio":0,"denominator":0}}]`),
			[]webhookEvent{ignoredEvent(formatNotification)}},
		{"abandon rate with zero offered is skipped",
			observationsEnvelope(`{}`, `[{"metric":"tAbandon","stats":{"count":0}},{"metric":"nOffered","stats":{"count":0}}]`),
			[]webhookEvent{ignoredEvent(formatNotification)}},
		{"abandon rate needs both counts in one item",
			`{"topicName":"` + sampleTopic + `","eventBody":{"group":{},"data":[` +
				`{"metrics":[{"metric":"tAbandon","stats":{"count":2}}]},{"metrics":[{"metric":"nOffered","stats":{"count":10}}]}]}}`,
			[]webhookEvent{ignoredEvent(formatNotification)}},
		{"one observation per data item",
			`{"topicName":"` + sampleTopic + `","eventBody":{"group":{"mediaType":"email"},"data":[` +
				`{"metrics":[{"metric":"oWaiting","stats":{"count":4}}]},{"metrics":[{"metric":"oWaiting","stats":{"count":5}},{"metric":"oWaiting","stats":{}}]}]},` +
				`"metadata":{"CorrelationId":"corr-2"}}`,
			[]webhookEvent{decodedEvent(formatNotification, "corr-2", sampleQueue, "",
				observation(sampleQueue, "email", app.Waiting, 4), observation(sampleQueue, "email", app.Waiting, 5))}},
		{"queue id from the topic", observationsEnvelope(`{"mediaType":"callback"}`, `[{"metric":"tAbandon","stats":{"count":1}},{"metric":"nOffered","stats":{"count":8}}]`),
			[]webhookEvent{decodedEvent(formatNotification, "corr-1", sampleQueue, "", withVolume(observation(sampleQueue, "callback", app.AbandonRate, 12.5), 8))}},
		{"unknown metrics only", observationsEnvelope(`{}`, `[{"metric":"oInteracting","stats":{"count":"x"}},{"metric":"tWait","stats":{"sum":1}},{"metric":"oActiveUsers","stats":{"count":3}}]`),
			[]webhookEvent{ignoredEvent(formatNotification)}},
		{"stat without count", observationsEnvelope(`{}`, `[{"metric":"oWaiting","stats":{}},{"metric":"oWaiting"}]`),
			[]webhookEvent{ignoredEvent(formatNotification)}},
		{"notification without correlation id is hashed", `{"topicName":"` + sampleTopic + `","eventBody":{"data":[{"metrics":[{"metric":"oWaiting","stats":{"count":1}}]}]}}`,
			[]webhookEvent{decodedEvent(formatNotification, sha256Key([]byte(`{"topicName":"`+sampleTopic+`","eventBody":{"data":[{"metrics":[{"metric":"oWaiting","stats":{"count":1}}]}]}}`)), sampleQueue, "", observation(sampleQueue, "", app.Waiting, 1))}},
		{"metric alias sl in percent", metricEventWith(`{"queue_id":"q1","metric":"SL","value":79.5,"unit":"percent"}`),
			[]webhookEvent{decodedEvent(formatMetric, "ev-1", "q1", "", observation("q1", "", app.ServiceLevel, 79.5))}},
		{"zero value without unit", metricEventWith(`{"queue_id":"q1","metric":"on_queue","value":0}`),
			[]webhookEvent{decodedEvent(formatMetric, "ev-1", "q1", "", observation("q1", "", app.Agents, 0))}},
		{"mrkdwn-ish queue name passes through", metricEventWith(`{"queue_id":"q1","queue_name":"<!here> *VIP* & <#C1|ops> _x_","metric":"queue","value":2}`),
			[]webhookEvent{decodedEvent(formatMetric, "ev-1", "q1", "<!here> *VIP* & <#C1|ops> _x_", observation("q1", "", app.Waiting, 2))}},
		{"queue name control characters and space stripped", metricEventWith(`{"queue_id":"q1","queue_name":"  Sup\u0000port\n\u009b ","metric":"queue","value":2}`),
			[]webhookEvent{decodedEvent(formatMetric, "ev-1", "q1", "Support", observation("q1", "", app.Waiting, 2))}},
		{"unknown metric with count unit", metricEventWith(`{"queue_id":"q1","metric":"occupancy","value":2,"unit":"count"}`),
			[]webhookEvent{{Format: formatMetric, Ignored: true, UnknownMetric: "occupancy"}}},
		{"metric event tolerates foreign fields of any type",
			`{"id":"ev-1","event_type":"com.genesiscloud.queue.metric","detail":"x","eventBody":[],"metadata":7,"data":{"queue_id":"q1","metric":"wait","value":1}}`,
			[]webhookEvent{decodedEvent(formatMetric, "ev-1", "q1", "", observation("q1", "", app.LongestWait, 1))}},
		{"unknown object with odd types", `{"id":5,"data":"x","eventBody":3,"detail":[1],"event_type":{}}`,
			[]webhookEvent{ignoredEvent(formatUnknown)}},
		{"other topic with odd body", `{"topicName":"v2.users.u1.presence","eventBody":"x"}`,
			[]webhookEvent{ignoredEvent(formatNotification)}},
		{"eventbridge from another source with odd detail", `{"detail-type":"x","source":"aws.s3","detail":{"eventBody":"x"}}`,
			[]webhookEvent{ignoredEvent(formatEventBridge)}},
		{"eventbridge lookalike source", `{"detail-type":"x","source":"aws.partner/genesys.com.evil/x","detail":` + observationsEnvelope(`{}`, `[{"metric":"oWaiting","stats":{"count":1}}]`) + `}`,
			[]webhookEvent{ignoredEvent(formatEventBridge)}},
		{"eventbridge without detail", `{"detail-type":"x","source":"` + genesysPartnerSource + `","detail":null}`,
			[]webhookEvent{ignoredEvent(formatUnknown)}},
		{"eventbridge with another topic", `{"detail-type":"x","source":"` + genesysPartnerSource + `","detail":{"topicName":"v2.users.u1.presence","eventBody":7}}`,
			[]webhookEvent{ignoredEvent(formatEventBridge)}},
		{"surrounding whitespace", "\r\n\t " + metricEventWith(`{"queue_id":"q1","metric":"wait","value":3}`) + "\n",
			[]webhookEvent{decodedEvent(formatMetric, "ev-1", "q1", "", observation("q1", "", app.LongestWait, 3))}},
		{"strings with brackets, commas and escapes", `[{"id":"a\\\"],{","event_type":"com.genesiscloud.queue.metric","data":{"queue_id":"q1","queue_name":"x\\","metric":"wait","value":3}},{"s":"\\\\"}]`,
			[]webhookEvent{decodedEvent(formatMetric, `a\"],{`, "q1", `x\`, observation("q1", "", app.LongestWait, 3)), ignoredEvent(formatUnknown)}},
		{"single-element array", "[" + metricEventWith(`{"queue_id":"q1","metric":"wait","value":3}`) + "]",
			[]webhookEvent{decodedEvent(formatMetric, "ev-1", "q1", "", observation("q1", "", app.LongestWait, 3))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeWebhook([]byte(tt.body))
			if err != nil {
				t.Fatalf("decodeWebhook: %v", err)
			}
			if got = correlationOnly(t, roundValues(got)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decodeWebhook:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeWebhookErrors(t *testing.T) {
	good := metricEventWith(`{"queue_id":"q1","metric":"wait","value":3}`)
	nested := strings.Repeat("[", 100_000)
	tests := []struct {
		name   string
		body   string
		reason string
	}{
		{"empty body", "", "empty body"},
		{"blank body", " \n\t", "empty body"},
		{"null", "null", "not a JSON object or array"},
		{"string", `"event"`, "not a JSON object or array"},
		{"number", "42", "not a JSON object or array"},
		{"not JSON", "event_type=metric", "not a JSON object or array"},
		{"truncated object", `{"id":`, "invalid JSON"},
		{"trailing garbage", good + " x", "invalid JSON"},
		{"two objects", good + good, "invalid JSON"},
		{"empty array", "[]", "empty array"},
		{"blank array", "[ \n ]", "empty array"},
		{"unterminated array", "[" + good, "unterminated array"},
		{"garbage after array", "[" + good + "] x", "invalid JSON after the array"},
		{"byte after array", "[" + good + "]x", "invalid JSON after the array"},
		{"trailing comma", "[" + good + ",]", "event 1: missing"},
		{"leading comma", "[," + good + "]", "event 0: missing"},
		{"missing comma", "[" + good + " " + good + "]", "event 0: invalid JSON"},
		{"number element", "[" + good + ",2]", "event 1: not a JSON object"},
		{"null element", "[null]", "event 0: not a JSON object"},
		{"index of the bad event", "[" + good + "," + good + "," + metricEventWith(`{"queue_id":"q1","metric":"wait","value":"3"}`) + "]",
			"event 2: data.value: not a number"},
		{"deeply nested array", nested, "unterminated array"},
		{"deeply nested closed array", nested + strings.Repeat("]", 100_000), "event 0: not a JSON object"},
		{"deeply nested value", `{"data":` + nested + strings.Repeat("]", 100_000) + "}", "invalid JSON"},
		{"deeply nested element", "[{\"x\":" + nested + strings.Repeat("]", 100_000) + "}]", "event 0: invalid JSON"},

		{"missing data", `{"event_type":"com.genesiscloud.queue.metric"}`, "data.queue_id: missing"},
		{"data not an object", `{"event_type":"com.genesiscloud.queue.metric","data":"x"}`, "data: want object, got string"},
		{"missing queue id", metricEventWith(`{"metric":"wait","value":3}`), "data.queue_id: missing"},
		{"queue id not a string", metricEventWith(`{"queue_id":7,"metric":"wait","value":3}`), "data.queue_id: want string, got number"},
		{"reserved queue id", metricEventWith(`{"queue_id":"Default","metric":"wait","value":3}`), "data.queue_id"},
		{"queue id with space", metricEventWith(`{"queue_id":"q 1","metric":"wait","value":3}`), "data.queue_id"},
		{"queue id with markup", metricEventWith(`{"queue_id":"<!here>","metric":"wait","value":3}`), "data.queue_id"},
		{"queue id too long", metricEventWith(`{"queue_id":"` + strings.Repeat("a", 129) + `","metric":"wait","value":3}`), "data.queue_id"},
		{"missing metric", metricEventWith(`{"queue_id":"q1","value":3}`), "data.metric: missing"},
		{"metric not a string", metricEventWith(`{"queue_id":"q1","metric":["wait"],"value":3}`), "data.metric: want string, got array"},
		{"missing value", metricEventWith(`{"queue_id":"q1","metric":"wait"}`), "data.value: missing"},
		{"string value", metricEventWith(`{"queue_id":"q1","metric":"wait","value":"3"}`), "data.value: not a number"},
		{"null value", metricEventWith(`{"queue_id":"q1","metric":"wait","value":null}`), "data.value: not a number"},
		{"NaN value", metricEventWith(`{"queue_id":"q1","metric":"wait","value":"NaN"}`), "data.value: not a number"},
		{"object value", metricEventWith(`{"queue_id":"q1","metric":"wait","value":{"v":3}}`), "data.value: not a number"},
		{"bool value", metricEventWith(`{"queue_id":"q1","metric":"wait","value":true}`), "data.value: not a number"},
		{"duplicate value key", metricEventWith(`{"queue_id":"q1","metric":"wait","value":3,"value":"3"}`), "data.value: not a number"},
		{"negative value", metricEventWith(`{"queue_id":"q1","metric":"wait","value":-1}`), "data.value: negative"},
		{"infinite value", metricEventWith(`{"queue_id":"q1","metric":"wait","value":1e999}`), "data.value: not a finite number"},
		{"bad value of unknown metric", metricEventWith(`{"queue_id":"q1","metric":"occupancy","value":"high"}`), "data.value: not a number"},
		{"unknown unit", metricEventWith(`{"queue_id":"q1","metric":"wait","value":3,"unit":"minutes"}`), "data.unit"},
		{"unit that does not fit", metricEventWith(`{"queue_id":"q1","metric":"waiting","value":3,"unit":"ms"}`), "data.unit: ms does not fit metric waiting"},
		{"percent of wait", metricEventWith(`{"queue_id":"q1","metric":"wait","value":3,"unit":"percent"}`), "data.unit: percent does not fit"},
		{"queue name too long", metricEventWith(`{"queue_id":"q1","queue_name":"` + strings.Repeat("é", 129) + `","metric":"wait","value":3}`), "data.queue_name: longer than 256 bytes"},
		{"queue name not a string", metricEventWith(`{"queue_id":"q1","queue_name":5,"metric":"wait","value":3}`), "data.queue_name: want string, got number"},

		{"missing eventBody", `{"topicName":"` + sampleTopic + `"}`, "eventBody: missing"},
		{"null eventBody", `{"topicName":"` + sampleTopic + `","eventBody":null}`, "eventBody: missing"},
		{"eventBody not an object", `{"topicName":"` + sampleTopic + `","eventBody":[]}`, "eventBody: want object, got array"},
		{"metrics not an array", `{"topicName":"` + sampleTopic + `","eventBody":{"data":[{"metrics":{}}]}}`, "eventBody.data.metrics: want array, got object"},
		{"stats not an object", observationsEnvelope(`{}`, `[{"metric":"oWaiting","stats":3}]`), "eventBody.data.metrics.stats: want object, got number"},
		{"group queue id invalid", observationsEnvelope(`{"queueId":"q/1"}`, `[]`), "eventBody.group.queueId"},
		{"topic queue id invalid", `{"topicName":"v2.analytics.queues.default.observations","eventBody":{}}`, "topicName"},
		{"media type with slash", observationsEnvelope(`{"mediaType":"voice/x"}`, `[]`), "eventBody.group.mediaType"},
		{"count not a number", observationsEnvelope(`{}`, `[{"metric":"oAlerting","stats":{"count":1}},{"metric":"oWaiting","stats":{"count":"14"}}]`),
			"eventBody.data[0].metrics[1].stats.count: not a number"},
		{"count null", observationsEnvelope(`{}`, `[{"metric":"oOnQueueUsers","stats":{"count":null}}]`), "metrics[0].stats.count: not a number"},
		{"count negative", observationsEnvelope(`{}`, `[{"metric":"nOffered","stats":{"count":-2}}]`), "metrics[0].stats.count: negative"},
		{"ratio not a number", observationsEnvelope(`{}`, `[{"metric":"oServiceLevel","stats":{"ratio":"0.6","denominator":3}}]`), "stats.ratio: not a number"},
		{"denominator not a number", observationsEnvelope(`{}`, `[{"metric":"oServiceLevel","stats":{"ratio":0.6,"denominator":[]}}]`), "stats.denominator: not a number"},
		{"sum out of range", observationsEnvelope(`{}`, `[{"metric":"oWaiting","stats":{"count":1e308}},{"metric":"oWaiting","stats":{"count":1e308}}]`), "waiting out of range"},
		{"service level out of range", observationsEnvelope(`{}`, `[{"metric":"oServiceLevel","stats":{"ratio":1e307,"denominator":1}}]`), "service_level out of range"},

		{"eventbridge stats", `{"id":"e1","detail-type":"x","source":"` + genesysPartnerSource + `","detail":` +
			observationsEnvelope(`{}`, `[{"metric":"oWaiting","stats":{"count":"x"}}]`) + `}`, "detail.eventBody.data[0].metrics[0].stats.count: not a number"},
		{"eventbridge eventBody", `{"id":"e1","detail-type":"x","source":"` + genesysPartnerSource + `","detail":{"topicName":"` + sampleTopic + `","eventBody":"x"}}`,
			"detail.eventBody: want object, got string"},
		{"eventbridge missing eventBody", `{"id":"e1","detail-type":"x","source":"` + genesysPartnerSource + `","detail":{"topicName":"` + sampleTopic + `"}}`,
			"detail.eventBody: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeWebhook([]byte(tt.body))
			if !errors.Is(err, app.ErrBadEvent) {
				t.Fatalf("decodeWebhook = %+v, %v; want an error wrapping app.ErrBadEvent", got, err)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.reason) || strings.Contains(msg, "\n") || len(msg) > 300 {
				t.Errorf("reason %q; want one short line containing %q", msg, tt.reason)
			}
		})
	}
}

func TestDecodeWebhookKeys(t *testing.T) {
	noID := `{"event_type":"com.genesiscloud.queue.metric","data":{"queue_id":"q1","metric":"wait","value":3}}`
	noIDSpaced := `{"event_type": "com.genesiscloud.queue.metric","data":{"queue_id":"q1","metric":"wait","value":3}}`
	key := func(t *testing.T, body string, i int) string {
		t.Helper()
		events, err := decodeWebhook([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return events[i].Event.Key
	}
	t.Run("hash of the bytes as sent", func(t *testing.T) {
		if got, want := key(t, noID, 0), sha256Key([]byte(noID)); got != want {
			t.Errorf("key %q, want %q", got, want)
		}
	})
	t.Run("stable across requests, whitespace and batching", func(t *testing.T) {
		want := key(t, noID, 0)
		for _, body := range []string{noID, "\n " + noID + "\n", "[" + noID + "]", "[\n  " + noID + " ,\n " + noIDSpaced + "\n]"} {
			if got := key(t, body, 0); got != want {
				t.Errorf("key of %q = %q, want %q", body, got, want)
			}
		}
	})
	t.Run("differs with the bytes", func(t *testing.T) {
		a, b := key(t, "["+noID+","+noIDSpaced+"]", 0), key(t, "["+noID+","+noIDSpaced+"]", 1)
		if a == b {
			t.Errorf("events with different bytes share key %q", a)
		}
	})
	t.Run("empty id is hashed", func(t *testing.T) {
		body := strings.Replace(noID, "{", `{"id":"",`, 1)
		if got, want := key(t, body, 0), sha256Key([]byte(body)); got != want {
			t.Errorf("key %q, want %q", got, want)
		}
	})
	t.Run("eventbridge uses its own id, not the correlation id", func(t *testing.T) {
		if got := key(t, string(readWebhookFixture(t, "webhook-eventbridge-observations.json")), 0); got != "6efd5506-3fd6-09a1-5599-09ae48bd6dd8" {
			t.Errorf("key %q", got)
		}
	})
}

func TestDecodeWebhookReplayKey(t *testing.T) {
	const instant = `{"group":{"queueId":"` + sampleQueue + `","mediaType":"voice"},` +
		`"data":[{"interval":"2026-11-27T10:16:55.000Z/2026-11-27T10:16:55.000Z","metrics":[{"metric":"oWaiting","stats":{"count":3}}]}]}`
	const interval = `{"group":{"queueId":"` + sampleQueue + `","mediaType":"voice"},` +
		`"data":[{"interval":"2026-11-27T10:00:00.000Z/2026-11-27T10:30:00.000Z","metrics":[{"metric":"nOffered","stats":{"count":8}},{"metric":"tAbandon","stats":{"count":1}}]}]}`
	envelope := func(body, correlation string) string {
		return `{"topicName":"` + sampleTopic + `","version":"2","eventBody":` + body + `,"metadata":{"CorrelationId":"` + correlation + `"}}`
	}
	want := func(correlation, body string) string {
		sum := sha256.Sum256([]byte(body))
		return correlation + ":" + hex.EncodeToString(sum[:])[:16]
	}
	key := func(t *testing.T, body string, i int) string {
		t.Helper()
		events, err := decodeWebhook([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return events[i].Event.Key
	}
	t.Run("CorrelationId and a hash of the eventBody as received", func(t *testing.T) {
		if got, want := key(t, envelope(instant, "corr-7"), 0), want("corr-7", instant); got != want {
			t.Errorf("key %q, want %q", got, want)
		}
		// Spacing inside eventBody is part of what was received.
		spaced := strings.Replace(instant, `"count":3`, `"count": 3`, 1)
		if got, want := key(t, envelope(spaced, "corr-7"), 0), want("corr-7", spaced); got != want {
			t.Errorf("key %q, want %q", got, want)
		}
	})
	t.Run("same CorrelationId, different messages, different keys", func(t *testing.T) {
		body := "[" + envelope(instant, "corr-7") + "," + envelope(interval, "corr-7") + "]"
		if a, b := key(t, body, 0), key(t, body, 1); a == b {
			t.Errorf("instant and interval messages share key %q", a)
		}
	})
	t.Run("a replay keeps its key, batched or not", func(t *testing.T) {
		one := key(t, envelope(instant, "corr-7"), 0)
		if got := key(t, "[\n"+envelope(interval, "corr-8")+",\n  "+envelope(instant, "corr-7")+"]", 1); got != one {
			t.Errorf("key in a batch %q, alone %q", got, one)
		}
	})
}

func TestDecodeWebhookBatchSize(t *testing.T) {
	batch := func(n int) []byte {
		events := make([]string, n)
		for i := range events {
			events[i] = fmt.Sprintf(`{"id":"e%d","event_type":"com.genesiscloud.queue.metric","data":{"queue_id":"q%d","metric":"wait","value":%d}}`, i, i, i)
		}
		return []byte("[" + strings.Join(events, ",") + "]")
	}
	got, err := decodeWebhook(batch(maxEvents))
	if err != nil {
		t.Fatalf("%d events: %v", maxEvents, err)
	}
	if len(got) != maxEvents || got[999].Event.Key != "e999" || got[999].Event.Observations[0].Value != 999 {
		t.Errorf("%d events: got %d, last %+v", maxEvents, len(got), got[len(got)-1])
	}
	for _, body := range [][]byte{batch(maxEvents + 1), []byte("[" + strings.Repeat("{},", 300_000) + "{}]")} {
		if _, err := decodeWebhook(body); !errors.Is(err, app.ErrBadEvent) || !strings.Contains(err.Error(), "more than 1000 events") {
			t.Errorf("%d bytes of events: err %v, want more than 1000 events", len(body), err)
		}
	}
}

// BenchmarkDecodeWebhook compares decoding with the baseline the load test
// measures against: one json.Unmarshal of the body into plain structs.
func BenchmarkDecodeWebhook(b *testing.B) {
	single := readWebhookFixture(b, "webhook-metric-event.json")
	events := make([][]byte, 100)
	for i := range events {
		events[i] = bytes.Replace(single, []byte(`9c01"`), fmt.Appendf(nil, `%04d"`, i), 1)
	}
	array := append(append([]byte("[\n"), bytes.Join(events, []byte(",\n"))...), "\n]\n"...)
	type baselineEvent struct {
		ID        string `json:"id"`
		EventType string `json:"event_type"`
		Data      struct {
			QueueID   string  `json:"queue_id"`
			QueueName string  `json:"queue_name"`
			Metric    string  `json:"metric"`
			Value     float64 `json:"value"`
			Unit      string  `json:"unit"`
		} `json:"data"`
	}
	for _, bc := range []struct {
		name     string
		body     []byte
		baseline func() any
	}{
		{"metric", single, func() any { return new(baselineEvent) }},
		{"array-100", array, func() any { return new([]baselineEvent) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeWebhook(bc.body); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/baseline", func(b *testing.B) {
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := json.Unmarshal(bc.body, bc.baseline()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Each decoded observation carries when it was observed, for the engine to
// ignore one older than what it applied already: a metric event's
// timestamp (else its interval's start), a notification data item's
// interval start (its end lies ahead for interval metrics), else an
// EventBridge event's time. Sent is the newest stamp, for the future check.
// Event.SentAt, which ages the event for de-duplication, is the event's
// own stamp only (a metric event's timestamp, an EventBridge event's
// time): an interval may have begun long before the event was sent.
func TestDecodeStamps(t *testing.T) {
	ts := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	metric := func(extra, data string) string {
		return `{"id":"s","event_type":"com.genesiscloud.queue.metric"` + extra + `,"data":{"queue_id":"q1","metric":"waiting","value":1` + data + `}}`
	}
	item := func(interval, metric string) string {
		return `{"interval":"` + interval + `","metrics":[{"metric":"` + metric + `","stats":{"count":1}}]}`
	}
	envelope := func(items ...string) string {
		return `{"topicName":"v2.analytics.queues.q1.observations","eventBody":{"group":{"mediaType":"voice"},"data":[` + strings.Join(items, ",") + `]}}`
	}
	tests := []struct {
		name     string
		body     string
		observed []time.Time
		sent     time.Time
		sentAt   time.Time // Event.SentAt
	}{
		{"metric timestamp", metric(`,"timestamp":"2026-12-04T10:15:03Z"`, `,"interval":"2026-12-04T10:15:00Z/2026-12-04T10:15:03Z"`),
			[]time.Time{ts("2026-12-04T10:15:03Z")}, ts("2026-12-04T10:15:03Z"), ts("2026-12-04T10:15:03Z")},
		{"metric interval only", metric("", `,"interval":"2026-12-04T10:15:00Z/2026-12-04T10:15:03Z"`),
			[]time.Time{ts("2026-12-04T10:15:00Z")}, ts("2026-12-04T10:15:00Z"), time.Time{}},
		{"metric Unix seconds", metric(`,"timestamp":1796378103`, ""), []time.Time{time.Unix(1796378103, 0).UTC()}, time.Unix(1796378103, 0).UTC(),
			time.Unix(1796378103, 0).UTC()},
		{"metric Unix milliseconds", metric(`,"timestamp":1796378103250`, ""), []time.Time{time.UnixMilli(1796378103250).UTC()}, time.UnixMilli(1796378103250).UTC(),
			time.UnixMilli(1796378103250).UTC()},
		{"metric unstamped", metric("", ""), []time.Time{{}}, time.Time{}, time.Time{}},
		{"notification items", envelope(item("2026-12-04T10:00:00.000Z/2026-12-04T10:30:00.000Z", "oOnQueueUsers"),
			item("2026-12-04T10:16:55.101Z/2026-12-04T10:16:55.101Z", "oWaiting")),
			[]time.Time{ts("2026-12-04T10:00:00Z"), ts("2026-12-04T10:16:55.101Z")}, ts("2026-12-04T10:16:55.101Z"), time.Time{}},
		{"eventbridge time", `{"detail-type":"x","id":"e","source":"aws.partner/genesys.com/cloud/o/x","time":"2026-12-04T10:17:01Z","detail":` +
			`{"topicName":"v2.analytics.queues.q1.observations","eventBody":{"data":[{"interval":"2026-12-04T10:00:00.000Z/2026-12-04T10:30:00.000Z","metrics":[{"metric":"oWaiting","stats":{"count":1}}]}]}}}`,
			[]time.Time{ts("2026-12-04T10:00:00Z")}, ts("2026-12-04T10:17:01Z"), ts("2026-12-04T10:17:01Z")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := decodeWebhook([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			ev := evs[0]
			if fmt.Sprint(ev.ObservedAt) != fmt.Sprint(tt.observed) || !ev.Sent.Equal(tt.sent) {
				t.Errorf("observed %v, sent %v; want %v, %v", ev.ObservedAt, ev.Sent, tt.observed, tt.sent)
			}
			if !ev.Event.SentAt.Equal(tt.sentAt) {
				t.Errorf("Event.SentAt %v, want %v", ev.Event.SentAt, tt.sentAt)
			}
		})
	}
}
