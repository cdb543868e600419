package slackapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
)

func testHome() Home {
	firing := firingAlert()
	acked := firingAlert()
	acked.ID, acked.Metric, acked.State, acked.AckedBy, acked.AckedAt = app.AlertID("q-1", "voice", app.Waiting), app.Waiting, app.StateAcknowledged, "U123", testFiredAt.Add(time.Minute)
	muted := firingAlert()
	muted.ID, muted.QueueID, muted.QueueName = app.AlertID("q-2", "voice", app.LongestWait), "q-2", "<!channel> & co"
	muted.Muted, muted.SnoozedUntil, muted.SnoozedBy = true, testFiredAt.Add(time.Hour), "U7"
	return Home{
		Now:   testFiredAt.Add(4 * time.Minute),
		Names: map[string]string{"q-1": "Support", "q-2": "<!channel> & co"},
		Thresholds: []app.Threshold{
			{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 300, SetBy: "built-in"},
			{QueueID: "q-1", Metric: app.ServiceLevel, Value: 80, For: 10 * time.Minute, SetBy: "U9"},
		},
		Alerts:  []app.Alert{firing, acked, muted},
		Snoozes: []app.Snooze{{QueueID: "q-2", Until: testFiredAt.Add(time.Hour), By: "U7"}, {QueueID: app.AllQueues, Until: testFiredAt.Add(2 * time.Hour)}},
		Notice:  "Acknowledged *Support*.",
	}
}

func TestHomeView(t *testing.T) {
	h := testHome()
	view := HomeView(h)
	if view.Type != slack.VTHomeTab {
		t.Errorf("type = %q, want home", view.Type)
	}
	blocks := decodeBlocks(t, view.Blocks.BlockSet)
	all := texts(blocks)
	for _, want := range []string{
		"Acknowledged *Support*.",
		"*Open alerts* (3)",
		":rotating_light: *Support (voice)* — Longest wait *6m 12s* (threshold 5m) · firing for 4m",
		":eyes: *Support (voice)* — Waiting",
		"Acknowledged by <@U123>",
		":zzz: *&lt;!channel&gt; &amp; co (voice)* — Longest wait *6m 12s* (threshold 5m) · snoozed by <@U7> until " +
			"<!date^1700003600^{date_short_pretty} {time}|Nov 14 23:13 UTC>, breaching since <!date^1700000000^{date_short_pretty} {time}|Nov 14 22:13 UTC>",
		"*default* longest_wait above 5m _(built-in; SLA_DEFAULT_LONGEST_WAIT)_",
		"*Support* service_level below 80% for 10m · set by <@U9>",
		"*&lt;!channel&gt; &amp; co* snoozed until <!date^1700003600^{date_short_pretty} {time}|Nov 14 23:13 UTC> by <@U7>",
		"*all queues* snoozed until",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("home lacks %q; texts:\n%s", want, all)
		}
	}
	if strings.Contains(all, "<!channel>") {
		t.Errorf("queue name not escaped:\n%s", all)
	}
	if strings.Contains(all, "snoozed for") {
		t.Errorf("a snoozed alert shows its breach's age as if it were the snooze's:\n%s", all)
	}

	var acks, unsnoozes, queueUnsnoozes []string
	for _, b := range blocks {
		walk(b, func(m map[string]any) {
			v, _ := m["value"].(string)
			switch m["action_id"] {
			case ActionAck:
				acks = append(acks, v)
			case ActionUnsnooze:
				unsnoozes = append(unsnoozes, v)
			case ActionUnsnoozeQueue:
				queueUnsnoozes = append(queueUnsnoozes, v)
			}
		})
	}
	if want := []string{AlertValue(h.Alerts[0]), AlertValue(h.Alerts[2])}; !equalStrings(acks, want) {
		t.Errorf("ack buttons = %v, want %v (none for the acknowledged alert)", acks, want)
	}
	if want := []string{AlertValue(h.Alerts[2])}; !equalStrings(unsnoozes, want) {
		t.Errorf("unsnooze buttons = %v, want %v", unsnoozes, want)
	}
	if want := []string{"q-2", app.AllQueues}; !equalStrings(queueUnsnoozes, want) {
		t.Errorf("queue unsnooze buttons = %v, want %v", queueUnsnoozes, want)
	}
	for id := range alertButtonValues(blocks) {
		if _, _, err := ParseAlertValue(id); err != nil {
			t.Errorf("button value %q does not parse: %v", id, err)
		}
	}
}

// alertButtonValues collects the values of alert buttons in blocks.
func alertButtonValues(blocks []map[string]any) map[string]bool {
	out := make(map[string]bool)
	for _, b := range blocks {
		walk(b, func(m map[string]any) {
			if id := m["action_id"]; id == ActionAck || id == ActionUnsnooze {
				out[m["value"].(string)] = true
			}
		})
	}
	return out
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00")
}

func TestHomeViewBounds(t *testing.T) {
	var h Home
	h.Now = testFiredAt
	for i := range 60 {
		a := firingAlert()
		a.QueueName = strings.Repeat("<&>", 200)
		a.Episode = i + 1
		h.Alerts = append(h.Alerts, a)
		h.Thresholds = append(h.Thresholds, app.Threshold{QueueID: "q-1", Metric: app.Waiting, Value: float64(i)})
		h.Snoozes = append(h.Snoozes, app.Snooze{QueueID: "q-1", Until: testFiredAt})
	}
	blocks := HomeView(h).Blocks.BlockSet
	if len(blocks) > 100 {
		t.Errorf("view has %d blocks, Slack allows 100", len(blocks))
	}
	for _, b := range decodeBlocks(t, blocks) {
		walk(b, func(m map[string]any) {
			if s, ok := m["text"].(string); ok && len([]rune(s)) > 3000 {
				t.Errorf("text object of %d runes, Slack allows 3000", len([]rune(s)))
			}
		})
	}
	all := texts(decodeBlocks(t, blocks))
	if !strings.Contains(all, "…and 40 more: `/sla status` lists all 60, a page at a time.") {
		t.Errorf("no overflow note for alerts:\n%s", all)
	}
}

func TestHomeViewEmpty(t *testing.T) {
	all := texts(decodeBlocks(t, HomeView(Home{Now: testFiredAt}).Blocks.BlockSet))
	for _, want := range []string{"No queue is breaching its SLA.", "None: no queue can breach.", "No queue is snoozed."} {
		if !strings.Contains(all, want) {
			t.Errorf("empty home lacks %q:\n%s", want, all)
		}
	}
}

// viewsFake answers views.publish as Slack does. slack-go sends that
// method as JSON with a bearer token, unlike the chat methods.
type viewsFake struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []map[string]any
	fail  string
}

func newViewsFake(t *testing.T) *viewsFake {
	t.Helper()
	f := &viewsFake{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/views.publish" {
			http.NotFound(w, r)
			return
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("views.publish Content-Type = %q, want JSON", ct)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
			return
		}
		body, _ := io.ReadAll(r.Body)
		var req map[string]any
		if err := json.Unmarshal(body, &req); err != nil {
			t.Errorf("views.publish body is not JSON: %v", err)
		}
		f.mu.Lock()
		f.calls = append(f.calls, req)
		fail := f.fail
		f.mu.Unlock()
		if fail != "" {
			writeJSON(w, map[string]any{"ok": false, "error": fail})
			return
		}
		view, _ := req["view"].(map[string]any)
		view["id"], view["team_id"] = "V0HOME", "T0001"
		writeJSON(w, map[string]any{"ok": true, "view": view})
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func TestClientPublishHome(t *testing.T) {
	f := newViewsFake(t)
	c := New(testToken, Options{APIURL: f.srv.URL + "/api"})
	if err := c.PublishHome(t.Context(), "U42", testHome()); err != nil {
		t.Fatalf("PublishHome: %v", err)
	}
	if len(f.calls) != 1 {
		t.Fatalf("got %d views.publish calls, want 1", len(f.calls))
	}
	req := f.calls[0]
	if req["user_id"] != "U42" {
		t.Errorf("user_id = %v, want U42", req["user_id"])
	}
	raw, _ := json.Marshal(req["view"])
	if !bytes.Contains(raw, []byte(`"type":"home"`)) || !bytes.Contains(raw, []byte("Support")) {
		t.Errorf("published view lacks the home type or the alert:\n%s", raw)
	}

	f.fail = "invalid_auth"
	err := c.PublishHome(t.Context(), "U42", testHome())
	var de *dispatch.DeliveryError
	if !errors.As(err, &de) || de.Retry || de.Fix == "" {
		t.Errorf("invalid_auth: err = %#v, want a permanent DeliveryError with a fix", err)
	}
	if err := c.PublishHome(t.Context(), "", testHome()); err == nil {
		t.Error("PublishHome without a user succeeded")
	}
}

func TestConsolePublishHome(t *testing.T) {
	var buf bytes.Buffer
	c := NewConsole(&buf, ConsoleOptions{})
	if err := c.PublishHome(t.Context(), "U42", testHome()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"App Home of U42", "Queue SLA alerts", "Support (voice)", "<!channel> & co", "[Acknowledge]", "[Unsnooze queue]"} {
		if !strings.Contains(out, want) {
			t.Errorf("console home lacks %q:\n%s", want, out)
		}
	}
}
