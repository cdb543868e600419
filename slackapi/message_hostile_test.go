package slackapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

// hostileNames are queue names (and media types, and user IDs) a relay or
// a forged click could send, each trying to ping people or form a link.
var hostileNames = []string{
	"<!channel>",
	"<!here|here> Support",
	"<!subteam^S0123ABCD>",
	"<@U0123ABCD>",
	"<#C0123ABCD>",
	"<https://evil.example|Open in Genesys Cloud>",
	"Sales & Support <EU> >",
	"&lt;!channel&gt;", // already escaped: must stay literal, not decode
	"*bold* _it_ ~x~ `code` ```block```",
	"サポート 東京 🚨 Zürich",
	"دعم العملاء \u202eevil",
	strings.Repeat("<!channel>", 2000),
	strings.Repeat("&", 10_000),
}

// wireCall is what Slack receives for one call.
type wireCall struct {
	method string
	form   url.Values
}

// recordingSlack answers chat.postMessage and chat.update like Slack and
// keeps each call's form.
func recordingSlack(t *testing.T) (*httptest.Server, func() []wireCall) {
	t.Helper()
	var (
		mu    sync.Mutex
		calls []wireCall
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		method := strings.TrimPrefix(r.URL.Path, "/api/")
		mu.Lock()
		calls = append(calls, wireCall{method, r.PostForm})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": r.PostForm.Get("channel"), "ts": "1700000000.000100"})
	}))
	t.Cleanup(srv.Close)
	return srv, func() []wireCall {
		mu.Lock()
		defer mu.Unlock()
		return append([]wireCall(nil), calls...)
	}
}

// Every alert message, update and reply slabot sends carries hostile
// names escaped: the only markup left is slabot's own (the Genesys link,
// a date, a mention of a real user ID), and every text object stays
// within Slack's limits.
func TestHostileNamesReachSlackEscaped(t *testing.T) {
	srv, calls := recordingSlack(t)
	client := slackapi.New("xoxb-test", slackapi.Options{APIURL: srv.URL + "/api/", AppsURL: "https://apps.mypurecloud.com", Mention: "<!here>"})
	fired := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for i, name := range hostileNames {
		waiting, agents := 14.0, 3.0
		base := app.Alert{ID: app.AlertID("q-hostile", name, app.LongestWait), QueueID: "q-hostile", QueueName: name,
			MediaType: name, Metric: app.LongestWait, State: app.StateFiring, Value: 312, Threshold: 300, Episode: 1,
			FiredAt: fired, Channel: "C0ALERTS", QueueWaiting: &waiting, QueueAgents: &agents}
		acked := base
		acked.State, acked.AckedBy, acked.AckedAt = app.StateAcknowledged, name, fired.Add(time.Minute)
		muted := base
		muted.Muted, muted.SnoozedUntil = true, fired.Add(time.Hour)
		resolved := base
		resolved.State, resolved.ResolvedAt, resolved.ResolvedBy = app.StateResolved, fired.Add(5*time.Minute), name
		realUser := base
		realUser.State, realUser.AckedBy, realUser.AckedAt = app.StateAcknowledged, "U0REALUSER", fired
		notes := []app.Notification{
			{Kind: app.KindPost, Alert: base},
			{Kind: app.KindUpdate, Alert: acked},
			{Kind: app.KindUpdate, Alert: muted},
			{Kind: app.KindUpdate, Alert: realUser},
			{Kind: app.KindUpdate, Alert: resolved},
			{Kind: app.KindReply, Alert: resolved, Reason: "resolved"},
			{Kind: app.KindReply, Alert: base, Reason: "reminder"},
		}
		for _, n := range notes {
			n.Channel, n.At = "C0ALERTS", fired.Add(10*time.Minute)
			if _, err := client.Notify(context.Background(), n, "1700000000.000100"); err != nil {
				t.Fatalf("name %d, %s: %v", i, n.Kind, err)
			}
		}
	}
	got := calls()
	if len(got) != 7*len(hostileNames) {
		t.Fatalf("%d calls; want %d", len(got), 7*len(hostileNames))
	}
	for i, c := range got {
		texts := []string{c.form.Get("text")}
		if b := c.form.Get("blocks"); b != "" {
			var blocks any
			if err := json.Unmarshal([]byte(b), &blocks); err != nil {
				t.Fatalf("call %d: blocks are not JSON: %v", i, err)
			}
			texts = append(texts, blockTexts(blocks)...)
		}
		for _, s := range texts {
			if bad := foreignMarkup(s); bad != "" {
				t.Errorf("call %d (%s, name %d): markup %.80q reaches Slack in %.120q", i, c.method, i/7, bad, s)
			}
			if !utf8.ValidString(s) || utf8.RuneCountInString(s) > 3000 {
				t.Errorf("call %d (%s): text of %d runes (valid UTF-8 %v); want ≤ 3000", i, c.method, utf8.RuneCountInString(s), utf8.ValidString(s))
			}
		}
	}
	if first := got[0].form.Get("text"); !strings.Contains(first, "&lt;!channel&gt;") {
		t.Errorf("text %q does not show the name escaped", first)
	}
	if uni := got[9*7].form.Get("text"); !strings.Contains(uni, "サポート 東京 🚨 Zürich") {
		t.Errorf("text %q lost the Unicode name", uni)
	}
}

// blockTexts returns every "text" string inside decoded Block Kit JSON.
func blockTexts(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && k == "text" {
				out = append(out, s)
			}
			out = append(out, blockTexts(val)...)
		}
	case []any:
		for _, val := range x {
			out = append(out, blockTexts(val)...)
		}
	}
	return out
}

var (
	anglesRe = regexp.MustCompile(`<[^>]*>`)
	// slabot's own markup: the Genesys Cloud link, a localised date, a
	// mention of a real user ID, and the operator's SLACK_MENTION.
	ownMarkup = regexp.MustCompile(`^<(https://apps\.mypurecloud\.com/directory/#/admin/admin/organization/_queuesV2/q-hostile\|Open in Genesys Cloud|!date\^\d+\^\{time\}\|\d\d:\d\d UTC|!date\^\d+\^\{date_short_pretty\} \{time\}\|[A-Z][a-z]{2} \d\d? \d\d:\d\d UTC|@U0REALUSER|!here)>$`)
)

// foreignMarkup returns the first <…> sequence in s that slabot did not
// put there itself, or "".
func foreignMarkup(s string) string {
	for _, m := range anglesRe.FindAllString(s, -1) {
		if !ownMarkup.MatchString(m) {
			return m
		}
	}
	if i := strings.IndexAny(s, "<>"); i >= 0 && anglesRe.FindStringIndex(s[i:]) == nil {
		return fmt.Sprintf("stray %q", s[i])
	}
	return ""
}
