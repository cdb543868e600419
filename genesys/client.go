package genesys

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mypurecloud/platform-client-sdk-go/v150/platformclientv2"
	"github.com/slabot/slabot/app"
)

// ClientOptions configures a Client; the zero value is usable.
type ClientOptions struct {
	// HTTPClient sends the requests; default a new http.Client (timeouts
	// come from Timeout, per call).
	HTTPClient *http.Client
	// Timeout bounds one HTTP call, including reading its body; default 10s.
	Timeout time.Duration
	Logger  *slog.Logger
	// Clock decides token expiry and Retry-After windows; default the
	// system clock.
	Clock app.Clock
}

// Client calls the Genesys Cloud API with an OAuth client-credentials grant.
//
// It deliberately does not use the SDK's Configuration and APIClient for
// transport: NewConfiguration reads $HOME/.genesyscloudgo/config and may
// start a file watcher, its automatic token refresh panics on failure,
// APIClient.CallAPI takes no context and hides its HTTP client (fixed 16 s
// timeout, no keep-alive, 429 retries that sleep inside the call), and its
// response models decode statistics as float32. So the Client uses the SDK's
// request models (so request bodies follow the SDK's schema) and its OAuth
// response types, and does its own net/http transport, token refresh,
// per-call timeouts, Retry-After handling and float64 decoding.
//
// A Client is safe for concurrent use.
type Client struct {
	region   Region
	clientID string
	secret   secret
	http     *http.Client
	timeout  time.Duration
	log      *slog.Logger
	clock    app.Clock

	// authMu serializes token requests, so concurrent calls that find the
	// token expired fetch one new token, not one each.
	authMu    sync.Mutex
	token     secret
	refreshAt time.Time

	mu           sync.Mutex
	blockedUntil time.Time
}

// NewClient returns a client for one organisation's region and OAuth client.
// It makes no request until first used.
func NewClient(region Region, clientID, clientSecret string, opts ClientOptions) *Client {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = app.SystemClock{}
	}
	return &Client{
		region: region, clientID: clientID, secret: secret(clientSecret),
		http: opts.HTTPClient, timeout: opts.Timeout, log: opts.Logger, clock: opts.Clock,
	}
}

// Region returns the base URLs the client calls.
func (c *Client) Region() Region { return c.region }

// String describes the client without its credentials, so that printing a
// Client (or a struct holding one) never shows the secret or token.
func (c *Client) String() string { return "genesys.Client(" + c.region.API + ")" }

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }

// LogValue is String, for slog.
func (c *Client) LogValue() slog.Value { return slog.StringValue(c.String()) }

// secret holds a credential; every way of printing or logging it redacts it.
type secret string

func (secret) String() string                 { return "[redacted]" }
func (secret) GoString() string               { return "[redacted]" }
func (secret) LogValue() slog.Value           { return slog.StringValue("[redacted]") }
func (s secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Limits on what one call may read and how long a 429 may stop us.
const (
	maxBody           = 32 << 20
	defaultRetryAfter = 30 * time.Second
	maxRetryAfter     = 10 * time.Minute
	defaultTokenTTL   = 5 * time.Minute
)

// reply is a fully read HTTP response.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// call sends one API request and decodes a 2xx JSON answer into out. It
// refreshes the token once after a 401, and turns 429, 403 and other
// failures into the package's error types.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body, out any) (http.Header, error) {
	op := method + " " + path
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("genesys: %s: encode request: %w", op, err)
		}
	}
	target := c.region.API + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	for attempt := 0; ; attempt++ {
		if err := c.checkBlocked(); err != nil {
			return nil, err
		}
		tok, err := c.accessToken(ctx)
		if err != nil {
			return nil, err
		}
		h := http.Header{"Authorization": {"Bearer " + string(tok)}, "Accept": {"application/json"}}
		if payload != nil {
			h.Set("Content-Type", "application/json")
		}
		r, err := c.send(ctx, op, method, target, h, payload)
		if err != nil {
			return nil, err
		}
		c.log.Debug("genesys call", "op", op, "status", r.status)
		switch {
		case r.status == http.StatusUnauthorized && attempt == 0:
			// Revoked or expired early: one fresh token, one retry.
			c.log.Info("genesys token refused; requesting a new one", "op", op)
			c.dropToken(tok)
			continue
		case r.status == http.StatusUnauthorized:
			return nil, fmt.Errorf("%w: %s answered 401 with a new token: %s", ErrUnauthorized, op, fixCredentials)
		case r.status == http.StatusTooManyRequests:
			return nil, c.rateLimited(op, r.header)
		case r.status == http.StatusForbidden:
			return nil, &PermissionError{Missing: []string{permissionFor(path)}, Message: errorMessage(r.body)}
		case r.status < 200 || r.status > 299:
			return nil, &StatusError{Op: op, Status: r.status, Message: errorMessage(r.body)}
		}
		if out != nil {
			if err := json.Unmarshal(r.body, out); err != nil {
				return nil, fmt.Errorf("genesys: %s: decode response: %w", op, err)
			}
		}
		return r.header, nil
	}
}

// send performs one HTTP exchange within the per-call timeout and reads the
// whole body. Errors name the operation, never the URL.
func (c *Client) send(ctx context.Context, op, method, target string, h http.Header, payload []byte) (reply, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return reply{}, fmt.Errorf("genesys: %s: %w", op, stripURL(err))
	}
	req.Header = h
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return reply{}, fmt.Errorf("genesys: %s: no answer within %s: %w", op, c.timeout, context.DeadlineExceeded)
		}
		return reply{}, fmt.Errorf("genesys: %s: %w", op, stripURL(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return reply{}, fmt.Errorf("genesys: %s: read response: %w", op, stripURL(err))
	}
	if len(b) > maxBody {
		return reply{}, fmt.Errorf("genesys: %s: response larger than %d bytes", op, maxBody)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// stripURL drops the URL net/http puts in its errors, keeping the cause.
func stripURL(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// accessToken returns a valid token, fetching one when there is none or
// the current one is close to expiry.
func (c *Client) accessToken(ctx context.Context) (secret, error) {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	if c.token != "" && c.clock.Now().Before(c.refreshAt) {
		return c.token, nil
	}
	if err := c.checkBlocked(); err != nil {
		return "", err
	}
	tok, ttl, err := c.fetchToken(ctx)
	if err != nil {
		return "", err
	}
	// Refresh a minute early (or halfway through a short-lived token) so a
	// token never expires between taking it and the server checking it.
	c.token, c.refreshAt = tok, c.clock.Now().Add(ttl-min(time.Minute, ttl/2))
	c.log.Info("genesys token obtained", "expires_in", ttl.String())
	return tok, nil
}

// dropToken forgets tok unless another caller already replaced it.
func (c *Client) dropToken(tok secret) {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	if c.token == tok {
		c.token = ""
	}
}

// fetchToken performs the client-credentials grant.
func (c *Client) fetchToken(ctx context.Context) (secret, time.Duration, error) {
	const op = "POST /oauth/token"
	form := url.Values{"grant_type": {"client_credentials"}}
	h := http.Header{
		"Content-Type":  {"application/x-www-form-urlencoded"},
		"Accept":        {"application/json"},
		"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(c.clientID+":"+string(c.secret)))},
	}
	r, err := c.send(ctx, op, http.MethodPost, c.region.Login+"/oauth/token", h, []byte(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("%w (is GENESYS_REGION right?)", err)
	}
	switch {
	case r.status == http.StatusTooManyRequests:
		return "", 0, c.rateLimited(op, r.header)
	case r.status == http.StatusBadRequest || r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
		var ae platformclientv2.AuthErrorResponse
		_ = json.Unmarshal(r.body, &ae)
		desc := ae.ErrorDescription
		if desc == "" {
			desc = ae.Description
		}
		return "", 0, &CredentialsError{Code: shorten(ae.Error), Description: shorten(desc)}
	case r.status < 200 || r.status > 299:
		return "", 0, &StatusError{Op: op, Status: r.status, Message: errorMessage(r.body)}
	}
	var ar platformclientv2.AuthResponse
	if err := json.Unmarshal(r.body, &ar); err != nil {
		return "", 0, fmt.Errorf("genesys: %s: decode response: %w", op, err)
	}
	if ar.AccessToken == "" {
		return "", 0, fmt.Errorf("genesys: %s: answer has no access_token", op)
	}
	ttl := time.Duration(ar.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = defaultTokenTTL
	}
	return secret(ar.AccessToken), ttl, nil
}

// checkBlocked refuses calls while a 429's Retry-After runs.
func (c *Client) checkBlocked() error {
	c.mu.Lock()
	until := c.blockedUntil
	c.mu.Unlock()
	if c.clock.Now().Before(until) {
		return &RateLimitError{Until: until}
	}
	return nil
}

// rateLimited records a 429 and returns the error callers see.
func (c *Client) rateLimited(op string, h http.Header) error {
	now := c.clock.Now()
	until := now.Add(retryAfter(h.Get("Retry-After"), now))
	c.mu.Lock()
	if until.After(c.blockedUntil) {
		c.blockedUntil = until
	}
	until = c.blockedUntil
	c.mu.Unlock()
	c.log.Warn("genesys rate limit hit; pausing calls", "op", op, "until", until)
	return &RateLimitError{Until: until}
}

// retryAfter parses Retry-After (seconds or an HTTP date), bounded so that a
// missing or absurd value neither hammers the API nor stops polling for long.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	d := defaultRetryAfter
	if s, err := strconv.Atoi(v); err == nil {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, time.Second), maxRetryAfter)
}

// errorMessage extracts the "message" of a Genesys Cloud error body.
func errorMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
		Code    string `json:"code"`
	}
	if json.Unmarshal(body, &e) == nil {
		if e.Message != "" {
			return shorten(e.Message)
		}
		return shorten(e.Code)
	}
	return ""
}

// permissionFor names the permission an endpoint needs.
func permissionFor(path string) string {
	switch {
	case strings.HasPrefix(path, "/api/v2/routing/queues"):
		return permQueueView
	case strings.HasPrefix(path, "/api/v2/analytics/queues/observations"):
		return permObservationView
	case strings.HasPrefix(path, "/api/v2/analytics/conversations/aggregates"):
		return permAggregateView
	}
	return "the permission for " + path
}
