package genesys

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
	"github.com/slabot/slabot/app/engine"
	"github.com/slabot/slabot/handlers"
	"github.com/slabot/slabot/slackapi"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// Fixtures of the day-one organisation's Slack.
const (
	dayOneSlackToken  = "xoxb-day-one"
	dayOneSlackSecret = "day-one-signing-secret"
	dayOneTeam        = "T0DAYONE1"
	dayOneChannel     = "C0ALERTS01"
)

// dayOneSlack is a recording Slack Web API: it answers chat.* as Slack
// does and keeps every top-level post's text.
type dayOneSlack struct {
	t   *testing.T
	srv *httptest.Server

	mu    sync.Mutex
	seq   int
	posts []string // chat.postMessage texts outside threads, in order
}

func newDayOneSlack(t *testing.T) *dayOneSlack {
	s := &dayOneSlack{t: t}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *dayOneSlack) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var text, thread, token string
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		text, _ = m["text"].(string)
		thread, _ = m["thread_ts"].(string)
	} else {
		v, _ := url.ParseQuery(string(body))
		text, thread, token = v.Get("text"), v.Get("thread_ts"), v.Get("token")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if r.Header.Get("Authorization") != "Bearer "+dayOneSlackToken && token != dayOneSlackToken {
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	s.mu.Lock()
	s.seq++
	ts := fmt.Sprintf("1700000000.%06d", s.seq*100)
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	if method == "chat.postMessage" && thread == "" {
		s.posts = append(s.posts, text)
	}
	s.mu.Unlock()
	switch method {
	case "chat.postMessage", "chat.update":
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": dayOneChannel, "ts": ts})
	default:
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "unknown_method"})
	}
}

func (s *dayOneSlack) posted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.posts)
}

// alertedQueues returns the queue each alert post names ("SLA breach:
// <queue> — …"), sorted.
func alertedQueues(t *testing.T, posts []string) []string {
	t.Helper()
	var names []string
	for _, p := range posts {
		_, rest, ok := strings.Cut(p, "SLA breach: ")
		name, _, ok2 := strings.Cut(rest, " — ")
		if !ok || !ok2 {
			t.Errorf("post %q is not an alert", p)
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// dayOneCommand runs /sla text through slabot's Slack handler, signed as
// Slack signs it, and returns the ephemeral answer.
func dayOneCommand(t *testing.T, h http.Handler, text string) string {
	t.Helper()
	body := url.Values{"team_id": {dayOneTeam}, "channel_id": {"C0LEADS01"}, "channel_name": {"leads"},
		"user_id": {"U0LEAD001"}, "user_name": {"lead"}, "command": {"/sla"}, "text": {text},
		"response_url": {"https://hooks.slack.com/commands/" + dayOneTeam + "/1/x"}, "trigger_id": {"1.2.3"}}.Encode()
	ts := strconv.FormatInt(time.Now().Unix(), 10) // Slack's signature checks real time
	mac := hmac.New(sha256.New, []byte(dayOneSlackSecret))
	mac.Write([]byte("v0:" + ts + ":" + body))
	r := httptest.NewRequest(http.MethodPost, handlers.PathSlackCommands, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Slack-Request-Timestamp", ts)
	r.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var resp struct{ Text string }
	if err := json.Unmarshal(w.Body.Bytes(), &resp); w.Code != http.StatusOK || err != nil {
		t.Fatalf("/sla %s: status %d: %s", text, w.Code, w.Body)
	}
	return resp.Text
}

// dayOneOrg fills the fake with 200 queues handling voice, chat and email,
// as an organisation looks on the morning slabot is installed: email
// queues with mail waiting for hours (within their own 24 h target), voice
// and chat mostly quiet (waits fixed at their start, so they stay under
// 5 minutes for the test's two minutes), and a handful of queues in real
// trouble or below their own targets.
func dayOneOrg(f *fakeGenesys, now time.Time) {
	f.addQueues(200)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	f.edit(func(f *fakeGenesys) {
		depts := []string{"Sales", "Support", "Billing", "Returns", "Claims"}
		for i, q := range f.queues {
			q.Name = fmt.Sprintf("%s %03d", depts[i%len(depts)], i)
			q.Media = []string{"voice", "chat", "email"}
			q.Targets["call"] = fakeTarget{Percentage: 0.8, DurationMs: 20000}
			q.Targets["email"] = fakeTarget{Percentage: 0.9, DurationMs: 24 * 3600 * 1000}
			q.Waiting = map[string][]time.Time{}
			if i%3 == 0 { // a few callers, none for long
				q.Waiting["voice"] = []time.Time{ago(time.Duration(20+i%90) * time.Second), ago(5 * time.Second)}
			}
			if i%5 == 0 {
				q.Waiting["chat"] = []time.Time{ago(time.Duration(30+i/2) * time.Second)}
			}
			if i%4 != 0 { // three in four queues have mail waiting for 1 to 7 hours
				var mail []time.Time
				for m := range 20 + i%130 { // some lists past 100: truncated
					mail = append(mail, ago(time.Duration(1+i%7)*time.Hour-time.Duration(m)*20*time.Second))
				}
				q.Waiting["email"] = mail
			}
			q.Agg = map[string]fakeAgg{
				"voice": {Offered: 60, Abandoned: 2, SLNum: 54, SLDen: 60}, // 90 %
				"chat":  {Offered: 20, SLNum: 14, SLDen: 20},               // 70 %, below chat's 85 % target: no rule, no alert
				"email": {Offered: 30, SLNum: 3, SLDen: 30},                // 10 %: what 20 s-style email targets would say
			}
		}
		set := func(i int, name string, edit func(q *fakeQueue)) {
			f.queues[i].Name = name
			edit(f.queues[i])
		}
		// Real trouble now: callers and a chat waiting over 5 minutes.
		set(3, "Support Voice", func(q *fakeQueue) { q.Waiting["voice"] = []time.Time{ago(7 * time.Minute)} })
		set(17, "Billing Voice", func(q *fakeQueue) { q.Waiting["voice"] = []time.Time{ago(6*time.Minute + 10*time.Second)} })
		set(42, "Outage Hotline", func(q *fakeQueue) { q.Waiting["voice"] = []time.Time{ago(9 * time.Minute), ago(time.Minute)} })
		set(88, "Web Chat", func(q *fakeQueue) { q.Waiting["chat"] = []time.Time{ago(8 * time.Minute)} })
		set(5, "Sales Line", func(q *fakeQueue) { q.Waiting["voice"] = []time.Time{ago(2*time.Minute + 50*time.Second)} })
		// Against the org's own targets.
		set(60, "Sales Voice", func(q *fakeQueue) { q.Agg["voice"] = fakeAgg{Offered: 50, SLNum: 31, SLDen: 50} }) // 62 % < 80 %
		set(61, "Premium Voice", func(q *fakeQueue) {
			q.Targets["call"] = fakeTarget{Percentage: 0.9, DurationMs: 15000}
			q.Agg["voice"] = fakeAgg{Offered: 50, SLNum: 43, SLDen: 50} // 86 % < its 90 %
		})
		set(62, "Night Line", func(q *fakeQueue) { q.Agg["voice"] = fakeAgg{Offered: 8, SLNum: 4, SLDen: 8} }) // 50 %, 8 calls: under the gate
		set(120, "Claims Email", func(q *fakeQueue) { q.Waiting["email"] = []time.Time{ago(26 * time.Hour), ago(time.Hour)} })
		set(121, "Priority Email", func(q *fakeQueue) {
			q.Targets["email"] = fakeTarget{Percentage: 0.9, DurationMs: 4 * 3600 * 1000}
			q.Waiting["email"] = []time.Time{ago(5 * time.Hour)}
		})
		set(122, "VIP Email", func(q *fakeQueue) {
			q.Targets["email"] = fakeTarget{Percentage: 0.9, DurationMs: 4 * 3600 * 1000}
			q.Waiting["email"] = []time.Time{ago(3 * time.Hour)}
		})
	})
}

// TestDayOne is issue 12's "Done when": polling a directory of 200 queues ×
// 3 media types with no rules set, the first minute posts only the alerts
// a supervisor would call real (voice and chat waiting over 5 minutes, no
// email); then two "/sla set … target" commands hold every queue to its
// own Genesys targets, and exactly the queues below them alert.
func TestDayOne(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	gen := newFakeGenesys(t, clock)
	dayOneOrg(gen, clock.Now())

	st, err := store.New(ctx, redistest.Start(t).URL, store.Options{Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	slack := newDayOneSlack(t)
	client := slackapi.New(dayOneSlackToken, slackapi.Options{APIURL: slack.srv.URL + "/api/"})
	// As cmd/slabot wires it by default: the built-in wait rule, storm
	// digests on.
	builtin := &app.Threshold{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 300, SetBy: "built-in"}
	eng := engine.New(st, clock, engine.Options{Channel: dayOneChannel, BuiltinDefault: builtin,
		StormThreshold: engine.DefaultStormThreshold})
	disp := dispatch.New(st, client, app.SystemClock{}, dispatch.Options{Consumer: "day-one", Pace: time.Millisecond,
		IdleWait: 20 * time.Millisecond})
	dctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { disp.Run(dctx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	h := handlers.New(handlers.Deps{Store: st, Actions: eng, Records: st, Once: st, Clock: clock,
		Slack: handlers.SlackAuth{SigningSecret: dayOneSlackSecret, TeamID: dayOneTeam}, BuiltinDefault: builtin,
		DefaultChannel: dayOneChannel})
	ann := &announcer{}
	p := NewPoller(gen.client(t, nil), PollerDeps{Ingester: eng, Directory: st, Lease: st, Announcer: ann},
		PollerOptions{Holder: "day-one", BuiltinDefault: true, Clock: clock})

	// poll runs n cycles 10 s apart, then waits for Slack to get everything.
	poll := func(n int) {
		t.Helper()
		for range n {
			if err := p.Cycle(ctx); err != nil {
				t.Fatalf("poll cycle: %v", err)
			}
			clock.Advance(10 * time.Second)
		}
		deadline := time.Now().Add(15 * time.Second) // a bound for a stuck dispatcher, not a timing margin
		for {
			n, _, err := st.OutboxDepth(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the outbox did not drain")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	poll(6) // the first minute
	first := slack.posted()
	if got, want := alertedQueues(t, first), []string{"Billing Voice", "Outage Hotline", "Support Voice", "Web Chat"}; !slices.Equal(got, want) {
		t.Fatalf("first minute with no rules alerted %q, want only %q:\n%s", got, want, strings.Join(first, "\n"))
	}
	if got := len(gen.callsTo(pathObservations)); got != 12 {
		t.Errorf("observation requests in the first minute = %d, want 12 (2 chunks × 6 cycles)", got)
	}

	for _, cmd := range []string{"set default voice sl target min 20", "set default email wait target"} {
		if answer := dayOneCommand(t, h, cmd); !strings.Contains(answer, "Threshold set") {
			t.Fatalf("/sla %s answered %q", cmd, answer)
		}
	}
	// One more cycle: service levels are due again, and the new rules
	// apply to fresh values (they already did at once, on the last ones).
	poll(1)
	second := slack.posted()[len(first):]
	if got, want := alertedQueues(t, second), []string{"Claims Email", "Premium Voice", "Priority Email", "Sales Voice"}; !slices.Equal(got, want) {
		t.Fatalf("after the target rules alerted %q, want %q:\n%s", got, want, strings.Join(second, "\n"))
	}
	for _, want := range []string{"Premium Voice — Service level 86% (voice target 90 % in 15s)",
		"Priority Email — Longest wait 5h", "(email target 90 % in 4h)"} {
		if !slices.ContainsFunc(second, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("no post contains %q:\n%s", want, strings.Join(second, "\n"))
		}
	}
	if got := ann.posted(); len(got) != 0 {
		t.Errorf("announcements = %q, want none", got)
	}
}
