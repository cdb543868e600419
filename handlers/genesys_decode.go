package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/slabot/slabot/app"
)

// Webhook event formats (DESIGN §2.1), as reported in webhookEvent.Format.
const (
	formatMetric       = "metric"
	formatNotification = "notification"
	formatEventBridge  = "eventbridge"
	formatUnknown      = "unknown"
)

const (
	metricEventType = "com.genesiscloud.queue.metric"
	// genesysSource is the EventBridge source of Genesys Cloud's partner
	// event buses; the rest of the source names the integration.
	genesysSource = "aws.partner/genesys.com"
	// Observations topics are v2.analytics.queues.{id}.observations.
	topicPrefix  = "v2.analytics.queues."
	topicSuffix  = ".observations"
	maxEvents    = 1000
	maxQueueName = 256
	maxMediaType = 64
	// maxEventID bounds an event's own id: it becomes part of a Redis key.
	maxEventID = 256
	hashPrefix = "sha256:"
	jsonSpace  = " \t\r\n"
)

// webhookEvent is one decoded event of a webhook body.
type webhookEvent struct {
	Format  string    // "metric", "notification", "eventbridge" or "unknown"
	Event   app.Event // Key, QueueID, QueueName, Observations; zero when Ignored
	Ignored bool      // unknown format/topic, or nothing slabot evaluates (unknown metrics only)
	// UnknownMetric is the metric name of a metric event ignored for it:
	// slabot's own schema names only slabot's metrics, so the sender has
	// a typo or an old relay, and the operator is told.
	UnknownMetric string
	// ObservedAt holds when each of Event.Observations was observed (same
	// index), zero when the event does not say: a metric event's
	// timestamp, a notification data item's interval start, else an
	// EventBridge event's time. Nil when Ignored.
	ObservedAt []time.Time
	// Sent is the newest time the event carries (ObservedAt and an
	// EventBridge event's time): one ahead of the clock is refused.
	Sent time.Time
}

// decodeWebhook parses a body holding one JSON event or a JSON array of
// events. Any malformed event makes the whole body an error wrapping
// app.ErrBadEvent, with a one-line reason that names the array index when
// there is one, so the sender can fix it from a 400 alone.
func decodeWebhook(body []byte) ([]webhookEvent, error) {
	body = bytes.Trim(body, jsonSpace)
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty body", app.ErrBadEvent)
	}
	switch body[0] {
	case '{':
		ev, err := decodeEvent(body)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", app.ErrBadEvent, err)
		}
		return []webhookEvent{ev}, nil
	case '[':
		elems, err := splitArray(body)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", app.ErrBadEvent, err)
		}
		// One Unmarshal of the whole array is the fast path. If it fails,
		// decoding each element alone tolerates type mismatches in fields a
		// format does not read and names the index of a real error.
		wires := make([]wireEvent, 0, len(elems))
		if json.Unmarshal(body, &wires) != nil || len(wires) != len(elems) {
			wires = nil
		}
		events := make([]webhookEvent, len(elems))
		for i, raw := range elems {
			switch {
			case raw[0] != '{':
				return nil, fmt.Errorf("%w: event %d: not a JSON object", app.ErrBadEvent, i)
			case wires != nil:
				events[i], err = wires[i].event(raw)
			default:
				events[i], err = decodeEvent(raw)
			}
			if err != nil {
				return nil, fmt.Errorf("%w: event %d: %w", app.ErrBadEvent, i, err)
			}
		}
		return events, nil
	}
	return nil, fmt.Errorf("%w: body is not a JSON object or array", app.ErrBadEvent)
}

// wireEvent holds the fields of all three formats, so that an event is
// decoded in one pass before its format is known. Strings stay plain: an
// empty one counts as absent.
type wireEvent struct {
	ID        string         `json:"id"` // metric and EventBridge events
	EventType string         `json:"event_type"`
	Timestamp wireStamp      `json:"timestamp"` // metric events
	Time      wireStamp      `json:"time"`      // EventBridge events
	Data      wireMetricData `json:"data"`
	// A notification envelope sent as is.
	wireNotification
	DetailType string            `json:"detail-type"`
	Source     string            `json:"source"`
	Detail     *wireNotification `json:"detail"`
}

type wireMetricData struct {
	QueueID   string     `json:"queue_id"`
	QueueName string     `json:"queue_name"`
	Metric    string     `json:"metric"`
	Value     wireNumber `json:"value"`
	Unit      string     `json:"unit"`
	Interval  string     `json:"interval"`
}

type wireNotification struct {
	TopicName string    `json:"topicName"`
	EventBody *wireBody `json:"eventBody"`
	Metadata  struct {
		CorrelationID string `json:"CorrelationId"`
	} `json:"metadata"`
}

type wireBody struct {
	Group struct {
		QueueID   string `json:"queueId"`
		MediaType string `json:"mediaType"`
	} `json:"group"`
	Data []struct {
		Interval string           `json:"interval"`
		Metrics  []wireStatMetric `json:"metrics"`
	} `json:"data"`
}

// decodeEvent decodes one JSON object, raw exactly as sent.
func decodeEvent(raw []byte) (webhookEvent, error) {
	var w wireEvent
	if err := json.Unmarshal(raw, &w); err != nil {
		var mismatch *json.UnmarshalTypeError
		if !errors.As(err, &mismatch) {
			return webhookEvent{}, fmt.Errorf("invalid JSON: %w", err)
		}
		if err := w.redecode(raw); err != nil {
			return webhookEvent{}, err
		}
	}
	return w.event(raw)
}

// event converts a decoded event; raw is the event as sent.
func (w *wireEvent) event(raw []byte) (webhookEvent, error) {
	switch {
	case w.EventType == metricEventType:
		if err := checkID("id", w.ID); err != nil {
			return webhookEvent{}, err
		}
		at, err := w.Timestamp.time("timestamp")
		if err != nil {
			return webhookEvent{}, err
		}
		ev, err := w.Data.event(w.ID, at, raw)
		return withSentAt(ev, at), err
	case w.TopicName != "":
		if _, ok := topicQueue(w.TopicName); ok {
			if err := checkID("metadata.CorrelationId", w.Metadata.CorrelationID); err != nil {
				return webhookEvent{}, err
			}
		}
		return w.wireNotification.event(formatNotification, "", replayKey(w.Metadata.CorrelationID, raw), time.Time{}, raw)
	case w.DetailType != "" && w.Detail != nil:
		if !isGenesysSource(w.Source) {
			return webhookEvent{Format: formatEventBridge, Ignored: true}, nil
		}
		if err := checkID("id", w.ID); err != nil {
			return webhookEvent{}, err
		}
		sent, err := w.Time.time("time")
		if err != nil {
			return webhookEvent{}, err
		}
		ev, err := w.Detail.event(formatEventBridge, "detail.", w.ID, sent, raw)
		return withSentAt(ev, sent), err
	}
	return webhookEvent{Format: formatUnknown, Ignored: true}, nil
}

// withSentAt stamps a decoded event with when it was sent, by its own
// stamp: a metric event's timestamp or an EventBridge event's time, never
// an interval's start (an interval metric's interval may have begun half
// an hour before the event was sent). The stamp ages the event for
// de-duplication (app.Event.SentAt).
func withSentAt(ev webhookEvent, at time.Time) webhookEvent {
	if !ev.Ignored {
		ev.Event.SentAt = at
	}
	return ev
}

// isGenesysSource reports whether an EventBridge source is a Genesys Cloud
// partner event source (aws.partner/genesys.com/cloud/<org>/<name>).
func isGenesysSource(source string) bool {
	return source == genesysSource || strings.HasPrefix(source, genesysSource+"/")
}

// redecode is the slow path after a value of the wrong type. The union
// holds the fields of every format, so the mismatch may lie in a field the
// event's own format never reads (an unknown event's "data" string, say),
// and encoding/json reports only the first one. Decoding again only what
// the event's format reads tells which, and fills what the mismatch left
// empty.
func (w *wireEvent) redecode(raw []byte) error {
	var err error
	path := ""
	switch {
	case w.EventType == metricEventType:
		var m struct {
			Data wireMetricData `json:"data"`
		}
		err = json.Unmarshal(raw, &m)
		w.Data = m.Data
	case w.TopicName != "":
		w.wireNotification, err = redecodeNotification(raw)
	case w.DetailType != "":
		var e struct {
			Detail json.RawMessage `json:"detail"`
		}
		_ = json.Unmarshal(raw, &e) // a RawMessage takes any value
		w.Detail = nil
		if len(e.Detail) > 0 && string(e.Detail) != "null" {
			n, derr := redecodeNotification(e.Detail)
			w.Detail, path = &n, "detail."
			if isGenesysSource(w.Source) {
				err = derr
			}
		}
	}
	var mismatch *json.UnmarshalTypeError
	if !errors.As(err, &mismatch) {
		return err // nil: raw is valid JSON
	}
	want := mismatch.Type.String()
	switch mismatch.Type.Kind() {
	case reflect.Struct, reflect.Pointer:
		want = "object"
	case reflect.Slice:
		want = "array"
	}
	return fmt.Errorf("%s%s: want %s, got %s", path, mismatch.Field, want, mismatch.Value)
}

// redecodeNotification decodes an envelope alone. A mismatch in it counts
// only on an observations topic: other topics are ignored whatever they
// hold.
func redecodeNotification(raw []byte) (wireNotification, error) {
	var n wireNotification
	err := json.Unmarshal(raw, &n)
	if _, ok := topicQueue(n.TopicName); !ok {
		return n, nil
	}
	return n, err
}

// event converts a metric event stamped at (zero: unstamped). An unknown
// metric name is ignored, but only once the rest of the event is
// well-formed.
func (d *wireMetricData) event(id string, at time.Time, raw []byte) (webhookEvent, error) {
	if d.QueueID == "" {
		return webhookEvent{}, errors.New("data.queue_id: missing")
	}
	if err := checkQueueID("data.queue_id", d.QueueID); err != nil {
		return webhookEvent{}, err
	}
	if at.IsZero() {
		var err error
		if at, err = intervalStart("data.interval", d.Interval); err != nil {
			return webhookEvent{}, err
		}
	}
	name, err := cleanQueueName(d.QueueName)
	if err != nil {
		return webhookEvent{}, fmt.Errorf("data.queue_name: %w", err)
	}
	v, ok, err := d.Value.value("data.value")
	if err != nil {
		return webhookEvent{}, err
	}
	if !ok {
		return webhookEvent{}, errors.New("data.value: missing")
	}
	switch d.Unit {
	case "", "seconds", "count", "percent":
	case "ms":
		v /= 1000
	default:
		return webhookEvent{}, fmt.Errorf("data.unit: %.32q is not seconds, ms, count or percent", d.Unit)
	}
	if d.Metric == "" {
		return webhookEvent{}, errors.New("data.metric: missing")
	}
	m, err := app.ParseMetric(d.Metric)
	if err != nil {
		return webhookEvent{Format: formatMetric, Ignored: true, UnknownMetric: d.Metric}, nil
	}
	if !unitFits(d.Unit, m) {
		return webhookEvent{}, fmt.Errorf("data.unit: %s does not fit metric %s", d.Unit, m)
	}
	return webhookEvent{Format: formatMetric, Event: app.Event{
		Key:          keyOr(id, raw),
		QueueID:      d.QueueID,
		QueueName:    name,
		Observations: []app.Observation{{QueueID: d.QueueID, Metric: m, Value: v}},
	}, ObservedAt: []time.Time{at}, Sent: at}, nil
}

// unitFits rejects a unit that cannot describe the metric, such as
// milliseconds of agents: converting it would alert on a wrong value.
func unitFits(unit string, m app.Metric) bool {
	switch unit {
	case "seconds", "ms":
		return m == app.LongestWait
	case "percent":
		return m.IsRate()
	case "count":
		return m == app.Waiting || m == app.Agents
	}
	return true
}

// cleanQueueName strips control characters and surrounding space. Markup
// passes through: escaping for mrkdwn is the renderer's job.
func cleanQueueName(s string) (string, error) {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s))
	if len(s) > maxQueueName {
		return "", fmt.Errorf("longer than %d bytes", maxQueueName)
	}
	return s, nil
}

// topicQueue returns the queue ID of an observations topic; ok is false
// for any other topic.
func topicQueue(topic string) (queueID string, ok bool) {
	if len(topic) <= len(topicPrefix)+len(topicSuffix) ||
		!strings.HasPrefix(topic, topicPrefix) || !strings.HasSuffix(topic, topicSuffix) {
		return "", false
	}
	return topic[len(topicPrefix) : len(topic)-len(topicSuffix)], true
}

// event converts the notification envelope of an event in format; path
// prefixes field names in errors, id is the event's own key if any, sent
// the time of an EventBridge event (zero otherwise), and raw the event as
// sent. Slabot evaluates only the observations topic, and ignores an
// envelope holding only metrics it does not read.
func (n *wireNotification) event(format, path, id string, sent time.Time, raw []byte) (webhookEvent, error) {
	queueID, ok := topicQueue(n.TopicName)
	if !ok {
		return webhookEvent{Format: format, Ignored: true}, nil
	}
	b := n.EventBody
	if b == nil {
		return webhookEvent{}, fmt.Errorf("%seventBody: missing", path)
	}
	field := "topicName"
	if b.Group.QueueID != "" {
		queueID, field = b.Group.QueueID, "eventBody.group.queueId"
	}
	if err := checkQueueID(path+field, queueID); err != nil {
		return webhookEvent{}, err
	}
	media := b.Group.MediaType
	if !validMediaType(media) {
		return webhookEvent{}, fmt.Errorf("%seventBody.group.mediaType: %.64q is not a media type", path, media)
	}
	var (
		obs    []app.Observation
		stamps []time.Time
	)
	latest := sent
	for i := range b.Data {
		at, err := intervalStart(fmt.Sprintf("%seventBody.data[%d].interval", path, i), b.Data[i].Interval)
		if err != nil {
			return webhookEvent{}, err
		}
		if obs, err = appendObservations(obs, b.Data[i].Metrics, queueID, media); err != nil {
			return webhookEvent{}, fmt.Errorf("%seventBody.data[%d].%w", path, i, err)
		}
		if at.IsZero() {
			at = sent
		}
		if at.After(latest) {
			latest = at
		}
		for len(stamps) < len(obs) {
			stamps = append(stamps, at)
		}
	}
	if len(obs) == 0 {
		return webhookEvent{Format: format, Ignored: true}, nil
	}
	return webhookEvent{Format: format, Event: app.Event{Key: keyOr(id, raw), QueueID: queueID, Observations: obs},
		ObservedAt: stamps, Sent: latest}, nil
}
