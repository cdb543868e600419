package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/handlers/sockettest"
)

// memOnce is an in-memory OnceMarker.
type memOnce struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (o *memOnce) MarkOnce(_ context.Context, key string, _ time.Duration) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.keys == nil {
		o.keys = make(map[string]bool)
	}
	if o.keys[key] {
		return false, nil
	}
	o.keys[key] = true
	return true, nil
}

// envelopeLog records what the Socket tells its observer.
type envelopeLog struct {
	mu       sync.Mutex
	outcomes []string
}

func (l *envelopeLog) SocketConnected(bool)    {}
func (l *envelopeLog) SocketDisconnected()     {}
func (l *envelopeLog) SocketAck(time.Duration) {}
func (l *envelopeLog) SocketEnvelope(kind, outcome string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.outcomes = append(l.outcomes, kind+" "+outcome)
}

func (l *envelopeLog) wait(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		l.mu.Lock()
		for _, o := range l.outcomes {
			if o == want {
				l.mu.Unlock()
				return
			}
		}
		l.mu.Unlock()
	}
	t.Fatalf("observer never saw %q", want)
}

// socketRig is a Socket on a memStore, connected to a fake Socket Mode
// endpoint.
type socketRig struct {
	sock   *Socket
	fake   *sockettest.Server
	store  *memStore
	obs    *envelopeLog
	logs   *bytes.Buffer
	logsMu *sync.Mutex
	posted *postRecorder
}

// postRecorder is an HTTP client standing in for response_url: it records
// what is posted there.
type postRecorder struct {
	mu     sync.Mutex
	bodies []string
}

func (p *postRecorder) client() *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.bodies = append(p.bodies, r.URL.Host+" "+string(b))
		p.mu.Unlock()
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
	})}
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func newSocketRig(t *testing.T, appToken string, opts SocketOptions, mods ...func(*Deps)) *socketRig {
	t.Helper()
	r := &socketRig{store: newMemStore(), obs: &envelopeLog{}, logs: &bytes.Buffer{}, logsMu: &sync.Mutex{}, posted: &postRecorder{}}
	r.fake = sockettest.New(t, "xapp-1-rig", http.NotFoundHandler())
	r.fake.PingEvery = 50 * time.Millisecond
	opts.AppToken, opts.APIURL, opts.Observer = appToken, r.fake.APIURL(), r.obs
	log := slog.New(slog.NewTextHandler(lockedWriter{r.logsMu, r.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := Deps{Actions: r.store, Records: r.store, Once: &memOnce{}, Home: &homeRecorder{},
		Slack: SlackAuth{TeamID: slackTestTeam}, Admins: []string{"U0ADMIN01"}, Logger: log,
		SlackHTTPClient: r.posted.client()}
	for _, mod := range mods {
		mod(&d)
	}
	r.sock = NewSocket(d, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.sock.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func (r *socketRig) logged() string {
	r.logsMu.Lock()
	defer r.logsMu.Unlock()
	return r.logs.String()
}

func slashEnvelope(id, trigger, user, text string) sockettest.Envelope {
	return sockettest.Envelope{EnvelopeID: id, Type: "slash_commands", AcceptsResponsePayload: true,
		Payload: map[string]string{"token": "legacy", "team_id": slackTestTeam, "team_domain": "example",
			"channel_id": "C0SUPPORT1", "channel_name": "support-leads", "user_id": user, "user_name": "lead",
			"command": "/sla", "text": text, "api_app_id": "A0SLABOT1", "is_enterprise_install": "false",
			"response_url": "https://hooks.slack.com/commands/T0TEAM001/1/secretpath", "trigger_id": trigger}}
}

func ackText(t *testing.T, a sockettest.Ack) string {
	t.Helper()
	var p ephemeral
	if err := json.Unmarshal(a.Payload, &p); err != nil || p.ResponseType != "ephemeral" {
		t.Fatalf("ack payload %s: want an ephemeral answer", a.Payload)
	}
	return p.Text
}

// A connection on which Slack stops pinging is dead: the Socket opens a
// new one and handles the next envelope there.
func TestSocketReconnectsWhenPingsStop(t *testing.T) {
	r := newSocketRig(t, "xapp-1-rig", SocketOptions{PingInterval: 300 * time.Millisecond})
	first := r.fake.WaitConns(t, 1, 1)[0]
	first.StopPings()
	conn := r.fake.WaitConns(t, 1, 2)[0]
	conn.Send(slashEnvelope("e1", "t1", "U0LEAD001", "help"))
	if got := ackText(t, r.fake.WaitAck(t, "e1")); !strings.Contains(got, "/sla: queue SLA alerts") {
		t.Errorf("help answered %q", got)
	}
	if !r.sock.Connected() {
		t.Error("Connected() is false on a live connection")
	}
	if n := strings.Count(r.logged(), "slack socket mode reconnected"); n != 1 {
		t.Errorf("%d reconnect log lines, want 1", n)
	}
}

// The same rules as over HTTP: admins only for set, and the workspace
// check; nothing changes on a refusal.
func TestSocketCommandRules(t *testing.T) {
	r := newSocketRig(t, "xapp-1-rig", SocketOptions{})
	conn := r.fake.WaitConns(t, 1, 1)[0]
	conn.Send(slashEnvelope("e1", "t1", "U0LEAD001", "set Support wait 2m"))
	if got := ackText(t, r.fake.WaitAck(t, "e1")); !strings.Contains(got, "Only SLA admins") {
		t.Errorf("non-admin set answered %q", got)
	}
	foreign := slashEnvelope("e2", "t2", "U0ADMIN01", "set Support wait 2m")
	foreign.Payload.(map[string]string)["team_id"] = "T0OTHER99"
	conn.Send(foreign)
	if got := ackText(t, r.fake.WaitAck(t, "e2")); !strings.Contains(got, "another Slack workspace") {
		t.Errorf("foreign set answered %q", got)
	}
	conn.Send(slashEnvelope("e3", "t3", "U0ADMIN01", "set Support wait 2m"))
	if got := ackText(t, r.fake.WaitAck(t, "e3")); !strings.Contains(got, "Threshold set") {
		t.Errorf("admin set answered %q", got)
	}
	if got := r.store.recorded(); len(got) != 1 {
		t.Errorf("changes %q, want the admin's set alone", got)
	}
}

// A click delivered twice (same trigger_id, new envelope) acts once; a
// click that changes nothing is explained through response_url, after the
// ack, as over HTTP.
func TestSocketClickOnceAndExplained(t *testing.T) {
	r := newSocketRig(t, "xapp-1-rig", SocketOptions{})
	conn := r.fake.WaitConns(t, 1, 1)[0]
	id := app.AlertID(supportQueue, "", app.LongestWait)
	payload := socketClick(t, click{user: "U0LEAD001", action: actionJSON("alert_ack", "alert_actions", id+"|1", ""),
		responseURL: "https://hooks.slack.com/actions/T0TEAM001/1/secretpath"})
	payload["trigger_id"] = "click-trigger-1"
	for i, env := range []string{"c1", "c2"} {
		conn.Send(sockettest.Envelope{EnvelopeID: env, Type: "interactive", Payload: payload, RetryAttempt: i, RetryReason: "timeout"})
		if a := r.fake.WaitAck(t, env); len(a.Payload) != 0 && string(a.Payload) != "null" {
			t.Errorf("click ack carries %s", a.Payload)
		}
	}
	if got := r.store.recorded(); len(got) != 1 || !strings.HasPrefix(got[0], "ack ") {
		t.Errorf("changes %q, want one ack", got)
	}
	// A snooze length slabot does not offer changes nothing.
	bad := socketClick(t, click{user: "U0LEAD001", action: actionJSON("alert_snooze", id+"|1", "", "7m"),
		responseURL: "https://hooks.slack.com/actions/T0TEAM001/1/secretpath"})
	bad["trigger_id"] = "click-trigger-2"
	conn.Send(sockettest.Envelope{EnvelopeID: "c3", Type: "interactive", Payload: bad})
	r.fake.WaitAck(t, "c3")
	r.sock.core.bg.wait()
	r.posted.mu.Lock()
	defer r.posted.mu.Unlock()
	if len(r.posted.bodies) != 1 || !strings.HasPrefix(r.posted.bodies[0], "hooks.slack.com ") ||
		!strings.Contains(r.posted.bodies[0], `"response_type":"ephemeral"`) || !strings.Contains(r.posted.bodies[0], "not one slabot offers") {
		t.Errorf("response_url got %q, want one ephemeral note on the snooze length", r.posted.bodies)
	}
	if got := r.store.recorded(); len(got) != 1 {
		t.Errorf("changes %q after the refused snooze, want still one", got)
	}
}

// socketClick is c's payload as a Socket Mode envelope carries it: JSON,
// not a form field.
func socketClick(t *testing.T, c click) map[string]any {
	t.Helper()
	form, err := url.ParseQuery(string(c.payload()))
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(form.Get("payload")), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// An envelope whose payload does not parse is acknowledged (Slack would
// otherwise deliver it again and again) and changes nothing.
func TestSocketMalformedEnvelope(t *testing.T) {
	r := newSocketRig(t, "xapp-1-rig", SocketOptions{})
	conn := r.fake.WaitConns(t, 1, 1)[0]
	conn.Send(sockettest.Envelope{EnvelopeID: "m1", Type: "slash_commands", Payload: "set Support wait 2m", AcceptsResponsePayload: true})
	conn.Send(sockettest.Envelope{EnvelopeID: "m2", Type: "events_api", Payload: []int{1, 2}})
	r.fake.WaitAck(t, "m1")
	r.fake.WaitAck(t, "m2")
	if got := r.store.recorded(); len(got) != 0 {
		t.Errorf("changes %q, want none", got)
	}
}

// An event slabot cannot record is left unacknowledged, so Slack delivers
// it again, as a 503 does over HTTP.
func TestSocketEventStoreDownNotAcked(t *testing.T) {
	r := newSocketRig(t, "xapp-1-rig", SocketOptions{}, func(d *Deps) { d.Once = failingOnce{} })
	conn := r.fake.WaitConns(t, 1, 1)[0]
	var payload map[string]any
	if err := json.Unmarshal(homeOpened("Ev1", "U0LEAD001"), &payload); err != nil {
		t.Fatal(err)
	}
	conn.Send(sockettest.Envelope{EnvelopeID: "ev1", Type: "events_api", Payload: payload})
	r.obs.wait(t, "events_api retry_later")
	conn.Send(slashEnvelope("after", "t-after", "U0LEAD001", "help"))
	r.fake.WaitAck(t, "after")
	for _, a := range r.fake.Acks() {
		if a.EnvelopeID == "ev1" {
			t.Error("the unrecorded event was acknowledged")
		}
	}
}

// A token Slack refuses is logged as the operator's to fix, and the Socket
// does not report itself connected.
func TestSocketRefusedToken(t *testing.T) {
	r := newSocketRig(t, "xapp-1-wrong", SocketOptions{})
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(r.logged(), "Slack refused SLACK_APP_TOKEN"); {
		if time.Now().After(deadline) {
			t.Fatalf("no log line about the refused token:\n%s", r.logged())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r.sock.Connected() || r.fake.Opened() != 0 {
		t.Errorf("connected %v after %d opens with a refused token", r.sock.Connected(), r.fake.Opened())
	}
	if strings.Contains(r.logged(), "xapp-1-wrong") {
		t.Error("the token is in the logs")
	}
}

type fixedStatus bool

func (s fixedStatus) Connected() bool { return bool(s) }

type okPinger struct{}

func (okPinger) Ping(context.Context) error { return nil }

// In Socket Mode the HTTP Slack routes answer 404 saying why, parse
// nothing and change nothing; /readyz reports the connection.
func TestSocketModeHTTPRoutes(t *testing.T) {
	m := newMemStore()
	for _, connected := range []bool{false, true} {
		h, _ := memServer(t, m, func(d *Deps) { d.SocketMode = fixedStatus(connected); d.Store = okPinger{} })
		for _, p := range []string{PathSlackCommands, PathSlackInteractions, PathSlackEvents} {
			w := serve(h, signedRequest(p, "application/x-www-form-urlencoded", commandForm("U0LEAD001", "set Support wait 2m")))
			if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "Socket Mode is on") {
				t.Errorf("%s: %d %s, want 404 saying Socket Mode is on", p, w.Code, w.Body)
			}
		}
		w := serve(h, httptestGet(PathReady))
		switch {
		case connected && (w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"slack_socket_mode":"connected"`)):
			t.Errorf("readyz while connected: %d %s", w.Code, w.Body)
		case !connected && (w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "slack socket mode not connected")):
			t.Errorf("readyz while disconnected: %d %s", w.Code, w.Body)
		}
	}
	if got := m.recorded(); len(got) != 0 {
		t.Errorf("changes %q, want none", got)
	}
}

func httptestGet(path string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, path, nil)
	return r
}

// A command envelope that takes no payload in its ack gets its answer
// through response_url instead.
func TestSocketCommandAnswerWithoutAckPayload(t *testing.T) {
	r := newSocketRig(t, "xapp-1-rig", SocketOptions{})
	conn := r.fake.WaitConns(t, 1, 1)[0]
	env := slashEnvelope("e1", "t1", "U0LEAD001", "help")
	env.AcceptsResponsePayload = false
	conn.Send(env)
	if a := r.fake.WaitAck(t, "e1"); len(a.Payload) != 0 && string(a.Payload) != "null" {
		t.Errorf("ack carries %s though Slack takes no payload", a.Payload)
	}
	r.sock.core.bg.wait()
	r.posted.mu.Lock()
	defer r.posted.mu.Unlock()
	if len(r.posted.bodies) != 1 || !strings.HasPrefix(r.posted.bodies[0], "hooks.slack.com ") || !strings.Contains(r.posted.bodies[0], "/sla: queue SLA alerts") {
		t.Errorf("response_url got %q, want the help text", r.posted.bodies)
	}
}
