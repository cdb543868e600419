package handlers

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSlackSignExampleVector checks the test signing helper against the
// example in Slack's "Verifying requests from Slack" documentation.
func TestSlackSignExampleVector(t *testing.T) {
	body := "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	got := slackSign("8f742231b10e8888abcd99yyyzzz85a5", 1531420618, []byte(body))
	if want := "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"; got != want {
		t.Errorf("slackSign = %s, want %s", got, want)
	}
}

func TestVerifySlack(t *testing.T) {
	body := commandForm("U0LEAD001", "set Support wait 5m")
	now := time.Now().Unix()
	sig := func(ts int64, b []byte) string { return slackSign(slackTestSecret, ts, b) }
	tests := []struct {
		name   string
		ts     string
		sig    string
		body   []byte
		status int
	}{
		{name: "signed now", ts: strconv.FormatInt(now, 10), sig: sig(now, body), body: body, status: http.StatusOK},
		{name: "tampered body", ts: strconv.FormatInt(now, 10), sig: sig(now, body),
			body: commandForm("U0LEAD001", "set Support wait 9m"), status: http.StatusUnauthorized},
		{name: "six minutes old", ts: strconv.FormatInt(now-360, 10), sig: sig(now-360, body), body: body, status: http.StatusUnauthorized},
		{name: "six minutes ahead", ts: strconv.FormatInt(now+360, 10), sig: sig(now+360, body), body: body, status: http.StatusUnauthorized},
		{name: "missing signature", ts: strconv.FormatInt(now, 10), body: body, status: http.StatusUnauthorized},
		{name: "missing timestamp", sig: sig(now, body), body: body, status: http.StatusUnauthorized},
		{name: "wrong prefix", ts: strconv.FormatInt(now, 10), sig: "v1=" + strings.TrimPrefix(sig(now, body), "v0="), body: body, status: http.StatusUnauthorized},
		{name: "wrong secret", ts: strconv.FormatInt(now, 10), sig: slackSign("another-secret", now, body), body: body, status: http.StatusUnauthorized},
		{name: "not hex", ts: strconv.FormatInt(now, 10), sig: "v0=zz", body: body, status: http.StatusUnauthorized},
		{name: "timestamp not a number", ts: "yesterday", sig: sig(now, body), body: body, status: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemStore()
			h, _ := memServer(t, m, nil)
			for _, path := range []string{PathSlackCommands, PathSlackInteractions, PathSlackEvents} {
				r := signedRequest(path, "application/x-www-form-urlencoded", tt.body)
				r.Header.Del("X-Slack-Signature")
				r.Header.Del("X-Slack-Request-Timestamp")
				if tt.ts != "" {
					r.Header.Set("X-Slack-Request-Timestamp", tt.ts)
				}
				if tt.sig != "" {
					r.Header.Set("X-Slack-Signature", tt.sig)
				}
				w := serve(h, r)
				if path != PathSlackCommands && tt.status == http.StatusOK {
					continue // a command body is no interaction or event
				}
				if w.Code != tt.status {
					t.Errorf("%s: status = %d, want %d (%s)", path, w.Code, tt.status, w.Body)
				}
				if strings.Contains(w.Body.String(), tt.sig) && tt.sig != "" {
					t.Errorf("%s: answer echoes the signature", path)
				}
			}
			changes := m.recorded()
			if tt.status == http.StatusOK {
				if len(changes) != 1 {
					t.Errorf("changes = %v, want the one set", changes)
				}
				return
			}
			if len(changes) != 0 {
				t.Errorf("rejected request changed %v", changes)
			}
		})
	}
}

func TestVerifySlackBodyLimit(t *testing.T) {
	m := newMemStore()
	h, _ := memServer(t, m, nil)
	big := append(commandForm("U0LEAD001", "list"), make([]byte, MaxBody)...)
	w := serve(h, signedRequest(PathSlackCommands, "application/x-www-form-urlencoded", big))
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want 413", w.Code)
	}
}

func TestVerifySlackWithoutSecret(t *testing.T) {
	tests := []struct {
		name          string
		allowUnsigned bool
		status        int
	}{
		{"production refuses", false, http.StatusUnauthorized},
		{"local mode accepts", true, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemStore()
			h, _ := memServer(t, m, func(d *Deps) { d.Slack = SlackAuth{AllowUnsigned: tt.allowUnsigned} })
			r := signedRequest(PathSlackCommands, "application/x-www-form-urlencoded", commandForm("U0LEAD001", "ack Support"))
			r.Header.Del("X-Slack-Signature")
			if w := serve(h, r); w.Code != tt.status {
				t.Errorf("status = %d, want %d", w.Code, tt.status)
			}
		})
	}
}

func TestSlackTeamCheck(t *testing.T) {
	m := newMemStore()
	home := &homeRecorder{}
	var (
		mu      sync.Mutex
		replies []string
	)
	replier := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		replies = append(replies, string(b))
		mu.Unlock()
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}}, nil
	})}
	h, bg := memServer(t, m, func(d *Deps) { d.Slack.TeamID = "T0OTHER01"; d.Home = home; d.SlackHTTPClient = replier })

	if got := runCommand(t, h, "U0LEAD001", "snooze Support 30m"); !strings.Contains(got, "serves another Slack workspace") {
		t.Errorf("command from another workspace: %q", got)
	}
	click{user: "U0LEAD001", action: actionJSON("alert_ack", "alert_actions", supportQueue+"//waiting|1", ""), responseURL: hooksURL}.send(t, h)
	click{user: "U0LEAD001", home: true, action: actionJSON("alert_ack", "home_alert_0", supportQueue+"//waiting|1", "")}.send(t, h)
	ev := signedRequest(PathSlackEvents, "application/json", homeOpened("Ev0OTHER1", "U0LEAD001"))
	if w := serve(h, ev); w.Code != http.StatusOK {
		t.Errorf("event from another workspace: status %d", w.Code)
	}
	bg.wait()
	if got := m.recorded(); len(got) != 0 {
		t.Errorf("requests from another workspace changed %v", got)
	}
	if len(replies) != 1 || !strings.Contains(replies[0], "serves another Slack workspace") {
		t.Errorf("ephemeral replies to the click = %q, want one refusal", replies)
	}
	if got := home.published("U0LEAD001"); len(got) != 0 {
		t.Errorf("event from another workspace published %d homes", len(got))
	}
}
