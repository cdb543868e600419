package rig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
	"github.com/slabot/slabot/store"
)

// Credentials the rig gives slabot and its fakes.
const (
	BotToken      = "xoxb-rig-bot-token"
	SigningSecret = "rig-signing-secret"
	Channel       = "C0RIGALERTS"
	WebhookToken  = "rig-webhook-token"
)

// SlabotOptions configures StartSlabot.
type SlabotOptions struct {
	Bin      string // the slabot binary
	Dir      string // where its log goes
	Name     string // distinguishes replicas' logs; default "slabot"
	RedisURL string
	SlackURL string
	// Env adds or overrides variables (KEY=value), e.g. LOG_LEVEL=debug.
	Env []string
}

// Slabot is a running slabot process in production mode.
type Slabot struct {
	*Process
	// URL is its base URL, http://127.0.0.1:<port>.
	URL  string
	opts SlabotOptions
	port int
}

// StartSlabot runs slabot configured only by environment variables, as
// in production, and waits until /readyz answers.
func StartSlabot(ctx context.Context, opts SlabotOptions) (*Slabot, error) {
	if opts.Name == "" {
		opts.Name = "slabot"
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &Slabot{opts: opts, port: port, URL: "http://127.0.0.1:" + strconv.Itoa(port)}
	return s, s.start(ctx)
}

func (s *Slabot) start(ctx context.Context) error {
	env := []string{
		"PORT=" + strconv.Itoa(s.port),
		"REDIS_URL=" + s.opts.RedisURL,
		"SLACK_BOT_TOKEN=" + BotToken,
		"SLACK_SIGNING_SECRET=" + SigningSecret,
		"SLACK_CHANNEL_ID=" + Channel,
		"SLACK_API_URL=" + s.opts.SlackURL,
		"GENESYS_WEBHOOK_TOKEN=" + WebhookToken,
		"SLA_DEFAULT_LONGEST_WAIT=300s",
		"LOG_LEVEL=warn",
	}
	p, err := Start(s.opts.Name, s.opts.Bin, []string{"serve"}, append(env, s.opts.Env...),
		filepath.Join(s.opts.Dir, s.opts.Name+".log"))
	if err != nil {
		return err
	}
	s.Process = p
	if err := WaitHTTP(ctx, s.URL+"/readyz", p, 20*time.Second); err != nil {
		p.Kill()
		return fmt.Errorf("%w\n%s", err, Tail(p.Log, 2000))
	}
	return nil
}

// Restart starts the process again on the same port after it exited or
// was killed.
func (s *Slabot) Restart(ctx context.Context) error {
	s.Kill()
	return s.start(ctx)
}

// Sender posts webhooks as Genesys Cloud's EventBridge API destination
// would: authenticated, and retried on 5xx answers and connection errors.
type Sender struct {
	Client *http.Client
	Token  string
}

// NewSender returns a sender keeping up to conns connections per replica.
func NewSender(conns int) *Sender {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConns:        conns * 4,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &Sender{Client: &http.Client{Transport: tr, Timeout: 10 * time.Second}, Token: WebhookToken}
}

// Post sends body once and returns the status and answer.
func (s *Sender) Post(ctx context.Context, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/webhook/genesys", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := s.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// Delivery is the outcome of Deliver.
type Delivery struct {
	Status   string // the "status" of the final 200 answer
	Attempts int
	Refused  int // 5xx answers before it
	Failed   int // connection errors before it
}

// ErrRejected is returned by Deliver for a 4xx answer, which no retry
// can change.
var ErrRejected = errors.New("webhook rejected")

// Deliver posts body until a replica answers 200, retrying 5xx answers and
// connection errors with backoff as EventBridge does. Attempt i goes to
// urls[(first+i) % len(urls)], so several replicas are tried round-robin.
// It gives up when ctx is done.
func (s *Sender) Deliver(ctx context.Context, urls []string, first int, body []byte) (Delivery, error) {
	var d Delivery
	backoff := 20 * time.Millisecond
	for {
		url := urls[(first+d.Attempts)%len(urls)]
		d.Attempts++
		code, answer, err := s.Post(ctx, url, body)
		switch {
		case err == nil && code == http.StatusOK:
			var r struct {
				Status string `json:"status"`
			}
			if err := json.Unmarshal(answer, &r); err != nil {
				return d, fmt.Errorf("webhook answer %q: %w", answer, err)
			}
			d.Status = r.Status
			return d, nil
		case err == nil && code < 500:
			return d, fmt.Errorf("%w: %d %s", ErrRejected, code, answer)
		case err == nil:
			d.Refused++
		default:
			d.Failed++
		}
		select {
		case <-ctx.Done():
			return d, fmt.Errorf("webhook not delivered after %d attempts (last: %d, %v): %w", d.Attempts, code, err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Second)
	}
}

// RouteQueues sends each queue's alerts to a channel of its own,
// channel(i), through the engine's own action (as /sla route does), so
// that Slack's pacing of one new message per second per channel does not
// serialise alerts of different queues.
func RouteQueues(ctx context.Context, redisURL string, queues []string, channel func(i int) string) error {
	st, err := store.New(ctx, redisURL, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	eng := engine.New(st, app.SystemClock{}, engine.Options{})
	for i, q := range queues {
		if err := eng.Route(ctx, q, channel(i), app.Actor{UserID: "U0RIG", Via: "rig"}); err != nil {
			return fmt.Errorf("route %s: %w", q, err)
		}
	}
	return nil
}
