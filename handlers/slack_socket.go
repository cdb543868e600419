package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// Socket Mode budgets. Slack shows the user an error when an envelope is
// not acknowledged within 3 s; slackDeadline bounds the work before the
// ack, and maxInFlight bounds how many envelopes are worked on at once
// (more wait in the connection's buffer, which is what backpressure on a
// burst should look like, rather than a pile of goroutines on the Redis
// pool).
const (
	socketOnceFor     = 2 * time.Hour // as long as Slack retries an event
	socketAckTimeout  = 2 * time.Second
	socketMaxInFlight = 64
	socketRetryMin    = time.Second
	socketRetryMax    = 5 * time.Minute
)

// SocketObserver is told about the Socket Mode connection; metrics
// implement it.
type SocketObserver interface {
	// SocketConnected counts a connection Slack greeted (hello); reconnect
	// is false for the first one.
	SocketConnected(reconnect bool)
	// SocketDisconnected notes that the connection is down.
	SocketDisconnected()
	// SocketEnvelope counts an envelope by type (slash_commands,
	// interactive, events_api) and outcome (handled, duplicate,
	// malformed, retry_later).
	SocketEnvelope(kind, outcome string)
	// SocketAck observes the time from an envelope's arrival to its ack.
	SocketAck(elapsed time.Duration)
}

// SocketOptions configure the Socket Mode connection. The zero value of
// each optional field is safe.
type SocketOptions struct {
	// AppToken (SLACK_APP_TOKEN) is the app-level token (xapp-…) with the
	// connections:write scope that opens connections.
	AppToken string
	// APIURL is the Web API base URL where apps.connections.open is
	// called (SLACK_API_URL); default https://slack.com/api/.
	APIURL string
	// PingInterval is how long a connection may go without a ping from
	// Slack before it is considered dead and reopened; default 30 s.
	PingInterval time.Duration
	// HTTPClient calls apps.connections.open; default: a 10 s timeout.
	HTTPClient *http.Client
	// Observer counts connections, reconnects, envelopes and acks.
	Observer SocketObserver
}

// Socket receives Slack's commands, interactions and events over a Socket
// Mode WebSocket that slabot opens itself, so no inbound URL is needed
// (DESIGN §3). Each envelope goes through the same slackCore as the HTTP
// routes. Every replica opens its own connection; Slack gives each
// envelope to one of them, and may deliver one twice (a retry, or the
// same envelope on the old and new connection of a refresh), so commands
// and interactions are marked in Redis by their trigger_id before they
// act, and events by their event_id as over HTTP.
//
// slack-go's socketmode client speaks the protocol: it calls
// apps.connections.open, answers pings, reopens the connection when Slack
// asks (disconnect: refresh_requested, link_disabled…), when the socket
// closes and when Slack's pings stop, with backoff while it cannot
// connect. Run adds the one thing it does not do: trying again, slowly,
// after Slack refused the token.
type Socket struct {
	core      *slackCore
	opts      SocketOptions
	log       *slog.Logger
	obs       SocketObserver
	connected atomic.Bool
	sem       chan struct{}
	work      sync.WaitGroup

	// Run's own state: connections greeted so far, and since when the
	// connection has been down.
	greeted   int
	downSince time.Time
}

// NewSocket returns the Socket Mode transport for the Slack behaviour d
// describes (Actions, Records, Once, Home, Admins, Slack.TeamID…).
func NewSocket(d Deps, opts SocketOptions) *Socket {
	d = d.withDefaults()
	if opts.APIURL == "" {
		opts.APIURL = "https://slack.com/api/"
	}
	if !strings.HasSuffix(opts.APIURL, "/") {
		opts.APIURL += "/"
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	obs := opts.Observer
	if obs == nil {
		obs = nopSocketObserver{}
	}
	return &Socket{
		core: newSlackCore(d, newBackground(d.Logger)),
		opts: opts,
		log:  d.Logger,
		obs:  obs,
		sem:  make(chan struct{}, socketMaxInFlight),
	}
}

// Connected reports whether Slack has greeted the current connection;
// /readyz reports it.
func (s *Socket) Connected() bool { return s.connected.Load() }

// Run keeps a Socket Mode connection open until ctx is done, then waits
// for the envelopes in hand to be acknowledged and returns.
func (s *Socket) Run(ctx context.Context) {
	defer func() {
		s.work.Wait()
		s.core.bg.wait()
	}()
	api := slack.New("", slack.OptionAppLevelToken(s.opts.AppToken), slack.OptionAPIURL(s.opts.APIURL),
		slack.OptionHTTPClient(s.opts.HTTPClient))
	wait := socketRetryMin
	for {
		opts := []socketmode.Option{
			socketmode.OptionReadLimit(MaxBody),
			socketmode.OptionLog(slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)),
		}
		if s.opts.PingInterval > 0 {
			opts = append(opts, socketmode.OptionPingInterval(s.opts.PingInterval))
		}
		err := s.session(ctx, socketmode.New(api, opts...))
		if ctx.Err() != nil {
			return
		}
		// The client gives up only when Slack refuses the token
		// (invalid_auth, token_revoked, a 404 from apps.connections.open):
		// an operator has to act, but a token fixed in Slack's settings
		// starts working without a restart.
		s.log.Error("slack socket mode: Slack refused SLACK_APP_TOKEN; check it is the app-level token (xapp-…) with connections:write",
			"err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, socketRetryMax)
	}
}

// session runs one socketmode client until it gives up or ctx is done.
func (s *Socket) session(ctx context.Context, client *socketmode.Client) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- client.RunContext(ctx) }()
	for {
		select {
		case err := <-done:
			s.down()
			return err
		case ev := <-client.Events:
			s.on(ctx, client, ev)
		}
	}
}

// on handles one event of the client: its connection's life, or an
// envelope from Slack.
func (s *Socket) on(ctx context.Context, client *socketmode.Client, ev socketmode.Event) {
	switch ev.Type {
	case socketmode.EventTypeConnecting:
		s.down()
	case socketmode.EventTypeHello:
		s.up()
	case socketmode.EventTypeConnectionError:
		if ce, ok := ev.Data.(*slack.ConnectionErrorEvent); ok {
			s.log.Warn("slack socket mode: cannot connect; retrying", "attempt", ce.Attempt,
				"retry_in", ce.Backoff.String(), "err", ce.ErrorObj)
		}
	case socketmode.EventTypeIncomingError:
		if ie, ok := ev.Data.(*slack.IncomingEventError); ok {
			s.log.Warn("slack socket mode: read failed", "err", ie.ErrorObj)
		}
	case socketmode.EventTypeErrorWriteFailed:
		if we, ok := ev.Data.(*socketmode.ErrorWriteFailed); ok {
			s.log.Warn("slack socket mode: ack not written; Slack may deliver the envelope again", "err", we.Cause)
		}
	case socketmode.EventTypeErrorBadMessage:
		s.malformed(client, ev)
	case socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive, socketmode.EventTypeEventsAPI:
		if ev.Request == nil {
			return
		}
		received := time.Now()
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		s.work.Add(1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					s.log.Error("slack socket mode envelope panicked", "type", ev.Request.Type, "panic", p)
				}
				<-s.sem
				s.work.Done()
			}()
			// The work outlives a shutdown's cancel: it is bounded by
			// slackDeadline, and a half-done click should still be acked.
			s.handle(context.WithoutCancel(ctx), client, ev, received)
		}()
	}
}

// up notes a connection Slack greeted: one log line per (re)connection.
func (s *Socket) up() {
	if s.connected.Swap(true) {
		return
	}
	reconnect := s.greeted > 0
	s.greeted++
	s.obs.SocketConnected(reconnect)
	if !reconnect {
		s.log.Info("slack socket mode connected")
		return
	}
	s.log.Info("slack socket mode reconnected", "connection", s.greeted,
		"down_ms", time.Since(s.downSince).Milliseconds())
}

func (s *Socket) down() {
	if s.connected.Swap(false) {
		s.downSince = time.Now()
		s.obs.SocketDisconnected()
	}
}

// handle works on one envelope and acknowledges it: a command with its
// answer as the ack's payload, an interaction once its click has acted,
// an event once recorded (an event slabot could not record is left
// unacknowledged, so Slack delivers it again, as a 503 does over HTTP).
func (s *Socket) handle(ctx context.Context, client *socketmode.Client, ev socketmode.Event, received time.Time) {
	req := ev.Request
	kind := req.Type
	if req.RetryAttempt > 0 {
		s.log.Info("slack socket mode envelope redelivered", "type", kind,
			"retry_attempt", req.RetryAttempt, "retry_reason", req.RetryReason)
	}
	var payload any
	switch data := ev.Data.(type) {
	case slack.SlashCommand:
		if s.seen(ctx, kind, data.TriggerID, req) {
			s.ack(client, req, nil, received)
			return
		}
		answer := s.core.command(ctx, data)
		switch {
		case req.AcceptsResponsePayload:
			payload = answer
		case data.ResponseURL != "":
			// Slack always takes a command's answer in the ack today;
			// should it not, the answer goes where HTTP's late ones go.
			d := s.core.d
			s.core.bg.Go("command answer", func(ctx context.Context) {
				if err := postEphemeral(ctx, d.SlackHTTPClient, data.ResponseURL, answer.Text); err != nil {
					s.log.Warn("slack command answer not delivered", "user_id", data.UserID, "err", err)
				}
			})
		}
	case slack.InteractionCallback:
		if s.seen(ctx, kind, data.TriggerID, req) {
			s.ack(client, req, nil, received)
			return
		}
		s.core.interaction(ctx, data)
	default: // events_api: the payload is the Events API body
		env, err := decodeSlackEvent(req.Payload)
		if err != nil {
			s.obs.SocketEnvelope(kind, "malformed")
			s.ack(client, req, nil, received)
			return
		}
		if err := s.core.event(ctx, env); err != nil {
			s.obs.SocketEnvelope(kind, "retry_later")
			return
		}
	}
	s.obs.SocketEnvelope(kind, "handled")
	s.ack(client, req, payload, received)
}

// seen marks the delivery in Redis and reports whether a replica marked it
// before. It is keyed by the payload's trigger_id, which a redelivery
// repeats whatever its envelope_id, else by the envelope_id. When Redis
// cannot tell, the envelope is handled: the command or click then meets
// the same unreachable store and tells the user so.
func (s *Socket) seen(ctx context.Context, kind, id string, req *socketmode.Request) bool {
	if id == "" {
		id = req.EnvelopeID
	}
	if id == "" || s.core.d.Once == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, slackDeadline/2)
	first, err := s.core.d.Once.MarkOnce(ctx, "slack-socket:"+kind+":"+onceKey(id), socketOnceFor)
	cancel()
	if err != nil {
		s.log.Warn("slack socket mode envelope not recorded; handling it anyway", "type", kind, "err", err)
		return false
	}
	if !first {
		s.obs.SocketEnvelope(kind, "duplicate")
		s.log.Info("slack socket mode envelope already handled; acknowledged only", "type", kind,
			"retry_attempt", req.RetryAttempt, "retry_reason", req.RetryReason)
	}
	return !first
}

// onceKey keeps a Redis key short whatever Slack sends.
func onceKey(id string) string {
	if len(id) <= 64 {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// ack acknowledges an envelope, with payload when it has one. An answer
// too large for Socket Mode (20 KB) is replaced by a short one rather than
// left unanswered.
func (s *Socket) ack(client *socketmode.Client, req *socketmode.Request, payload any, received time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), socketAckTimeout)
	defer cancel()
	err := client.AckCtx(ctx, req.EnvelopeID, payload)
	if err != nil && payload != nil && ctx.Err() == nil {
		s.log.Warn("slack socket mode answer not sent; sending a short one", "type", req.Type, "err", err)
		err = client.AckCtx(ctx, req.EnvelopeID, ephemeral{ResponseType: "ephemeral",
			Text: "slabot's answer was too long for Slack; try a narrower command."})
	}
	if err != nil {
		s.log.Warn("slack socket mode ack not sent; Slack may deliver the envelope again", "type", req.Type, "err", err)
		return
	}
	s.obs.SocketAck(time.Since(received))
}

// malformed acknowledges an envelope whose payload does not decode, so
// Slack does not deliver it again, and logs why (never the payload).
func (s *Socket) malformed(client *socketmode.Client, ev socketmode.Event) {
	bad, ok := ev.Data.(*socketmode.ErrorBadMessage)
	if !ok {
		return
	}
	var req socketmode.Request
	_ = json.Unmarshal(bad.Message, &req)
	s.obs.SocketEnvelope(req.Type, "malformed")
	s.log.Warn("slack socket mode envelope malformed; acknowledged and ignored", "type", req.Type, "err", bad.Cause)
	if req.EnvelopeID != "" {
		s.ack(client, &req, nil, time.Now())
	}
}

type nopSocketObserver struct{}

func (nopSocketObserver) SocketConnected(bool)          {}
func (nopSocketObserver) SocketDisconnected()           {}
func (nopSocketObserver) SocketEnvelope(string, string) {}
func (nopSocketObserver) SocketAck(time.Duration)       {}
