// Package handlers is slabot's edge: it authenticates and decodes
// requests from Genesys Cloud and Slack, calls the app, and renders the
// answer. Slack's requests arrive over HTTP or, with an app-level token,
// over a Socket Mode connection (Socket); both go through one slackCore.
// Business rules live in app, not here.
package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

// Ingester evaluates webhook events; *engine.Engine implements it.
type Ingester interface {
	Ingest(ctx context.Context, ev app.Event) (app.Outcome, error)
	// IngestMany evaluates a JSON array's events, each queue's in order.
	IngestMany(ctx context.Context, evs []app.Event) ([]app.Outcome, error)
}

// Actions are what supervisors do from Slack; *engine.Engine implements it.
// Each is atomic in the store and enqueues its own message updates.
type Actions interface {
	Ack(ctx context.Context, alertID string, episode int, by app.Actor) (app.Alert, error)
	Resolve(ctx context.Context, alertID string, episode int, by app.Actor) (app.Alert, error)
	AckQueue(ctx context.Context, queueID string, by app.Actor) ([]app.Alert, error)
	Snooze(ctx context.Context, queueID string, d time.Duration, by app.Actor) (time.Time, error)
	Unsnooze(ctx context.Context, queueID string, by app.Actor) error
	SetThreshold(ctx context.Context, t app.Threshold, by app.Actor) (*app.Threshold, error)
	UnsetThreshold(ctx context.Context, queueID, media string, m app.Metric, by app.Actor) ([]app.Threshold, error)
	Route(ctx context.Context, queueID, channel string, by app.Actor) error
}

// Records is the read side of engine.Records that /sla and the App Home show.
type Records interface {
	Thresholds(ctx context.Context) ([]app.Threshold, error)
	OpenAlerts(ctx context.Context) ([]app.Alert, error)
	KnownQueues(ctx context.Context) (map[string]string, error)
	QueueStates(ctx context.Context, ids []string) ([]app.Queue, error)
	History(ctx context.Context, queueID string, limit int) ([]app.HistoryEntry, error)
}

// OnceMarker records a key for ttl and reports whether it was new; Slack
// event retries use it to be processed once.
type OnceMarker interface {
	MarkOnce(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// HomePublisher shows a user the App Home; *slackapi.Client publishes it,
// *slackapi.Console prints it.
type HomePublisher interface {
	PublishHome(ctx context.Context, userID string, h slackapi.Home) error
}

// Pinger reports whether the state store is reachable.
type Pinger interface {
	Ping(ctx context.Context) error
}

// WebhookAuth says how POST /webhook/genesys authenticates. A request
// passes if any configured method passes; with none configured the
// webhook is open only when AllowUnsigned is set (local mode) and
// otherwise answers 401 naming the variables that open it.
type WebhookAuth struct {
	Secret        string // GENESYS_WEBHOOK_SECRET: HMAC-SHA256 of the body
	Token         string // GENESYS_WEBHOOK_TOKEN: Bearer, X-Slabot-Token or Basic password
	AllowUnsigned bool
	// RequireTimestamp refuses signatures without X-Slabot-Timestamp, so
	// that no captured request can be replayed once its 5 minutes are up
	// (GENESYS_WEBHOOK_REQUIRE_TIMESTAMP; for relays that sign it).
	RequireTimestamp bool
}

// QueueDirectory tells how many queues slabot knows and which of some
// queue IDs it knows; *store.Redis implements it.
type QueueDirectory interface {
	QueueCount(ctx context.Context) (int, error)
	QueuesKnown(ctx context.Context, ids []string) ([]bool, error)
	KnownQueues(ctx context.Context) (map[string]string, error)
}

// QueueFinder looks queue names up in the Genesys Cloud directory, for a
// queue that no event or directory refresh has named yet;
// *genesys.QueueNames implements it.
type QueueFinder interface {
	QueuesNamed(ctx context.Context, name string) ([]app.QueueInfo, error)
}

// QueueLimits bound the queues webhooks may name (DESIGN §2.1). Each queue
// slabot has heard of keeps a few keys, so a sender inventing queue IDs
// must not grow Redis without end.
type QueueLimits struct {
	// Max is how many known queues webhooks may bring slabot to
	// (SLABOT_MAX_QUEUES); a request naming new queues beyond it answers
	// 400. 0 means no cap.
	Max int
	// Watch, when set (GENESYS_QUEUES: names or IDs), is the only queues
	// webhooks may report on; events about any other answer ignored.
	Watch []string
}

// Observer is told about each webhook request; metrics implement it.
type Observer interface {
	WebhookEvent(format, outcome string)
	WebhookRequest(status int, elapsed time.Duration)
	// UnknownMetric counts a metric event ignored for naming no metric.
	UnknownMetric()
}

// Deps are the collaborators of the HTTP edge.
type Deps struct {
	Ingester Ingester
	Store    Pinger
	Webhook  WebhookAuth
	// Queues and QueueLimits bound the queues webhooks may create; no
	// bound when Queues is nil.
	Queues      QueueDirectory
	QueueLimits QueueLimits
	// MaxBodyReads is how many request bodies may be read at once
	// (default 64), and BodyWait how long a request waits for its turn
	// before answering 503 (default 1 s).
	MaxBodyReads int
	BodyWait     time.Duration
	Observer     Observer
	// Metrics serves GET /metrics when set.
	Metrics http.Handler
	Logger  *slog.Logger

	// The Slack routes (/slack/commands, /slack/interactions,
	// /slack/events) are served when Actions and Records are set.
	Slack SlackAuth
	// Actions changes alerts, snoozes, thresholds and routes (*engine.Engine).
	Actions Actions
	// Records lists what supervisors ask about (*store.Redis).
	Records Records
	// Once de-duplicates Events API retries (*store.Redis).
	Once OnceMarker
	// Home publishes the App Home (*slackapi.Client, or *slackapi.Console
	// in local mode); App Home events are ignored when nil.
	Home HomePublisher
	// Admins are the Slack user IDs allowed to run /sla set, unset, route
	// and hours, and to snooze or unsnooze all queues (SLA_ADMINS); empty
	// lets everyone.
	Admins []string
	// Directory looks up queue names slabot has not seen yet, so that
	// /sla set, snooze, route and hours can name a queue before its first
	// event; nil without Genesys API credentials, and the answer then says
	// how to name a queue by its ID.
	Directory QueueFinder
	// BuiltinDefault is the engine's built-in default threshold, shown by
	// /sla list and the App Home; nil when SLA_DEFAULT_LONGEST_WAIT=off.
	BuiltinDefault *app.Threshold
	// DefaultChannel is SLACK_CHANNEL_ID, where queues without a route
	// alert; "" when unset (local mode).
	DefaultChannel string
	// SlackHTTPClient posts ephemeral replies to interactions'
	// response_url; default: a client with a 5 s timeout.
	SlackHTTPClient *http.Client
	// Clock tells the time for listings; default app.SystemClock.
	Clock app.Clock
	// Reports reads breach episodes for /sla report (*store.Redis); the
	// command says it is unavailable when nil. ReportZone is the time zone
	// reports are shown in (SLA_REPORT's; default UTC).
	Reports    Reports
	ReportZone *time.Location
	// Charts enqueues chart notifications (*store.Redis), for the Chart
	// button, /sla chart and /sla report's chart; the first two say
	// charts are off when nil.
	Charts ChartQueue
	// SocketMode, when set, is the Socket Mode connection (SLACK_APP_TOKEN)
	// that carries Slack's requests instead: the /slack/* routes then
	// answer 404 saying so, and /readyz reports whether it is connected.
	SocketMode SocketStatus
}

// SocketStatus reports whether the Socket Mode connection is up; *Socket
// implements it.
type SocketStatus interface {
	Connected() bool
}

// New returns slabot's HTTP handler with every route of routes.go.
func New(d Deps) http.Handler {
	h, _ := newServer(d)
	return h
}

// newServer builds the handler and returns, for tests, the runner of the
// work the Slack handlers do after answering.
func newServer(d Deps) (*gin.Engine, *background) {
	d = d.withDefaults()
	// Release mode: debug mode only prints routes and warnings to stdout.
	gin.SetMode(gin.ReleaseMode)
	bg := newBackground(d.Logger)
	r := gin.New()
	r.Use(recovery(d.Logger), requestLog(d.Logger))
	routes(r, d, bg, newBodyReads(d.MaxBodyReads, d.BodyWait))
	return r, bg
}

// withDefaults fills the optional collaborators.
func (d Deps) withDefaults() Deps {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Observer == nil {
		d.Observer = nopObserver{}
	}
	if d.Clock == nil {
		d.Clock = app.SystemClock{}
	}
	if d.SlackHTTPClient == nil {
		d.SlackHTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	return d
}

type nopObserver struct{}

func (nopObserver) WebhookEvent(string, string)       {}
func (nopObserver) WebhookRequest(int, time.Duration) {}
func (nopObserver) UnknownMetric()                    {}

// recovery turns a panic into a 500 and a log line instead of a crash.
func recovery(log *slog.Logger) gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, err any) {
		log.Error("handler panicked", "path", c.FullPath(), "panic", err)
		c.AbortWithStatusJSON(http.StatusInternalServerError, errorBody("internal error"))
	})
}

// requestLog writes one debug line per request. It logs the route, never
// the query or body, which may hold response_url or tokens.
func requestLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		log.Debug("request", "method", c.Request.Method, "route", c.FullPath(),
			"status", c.Writer.Status(), "duration_ms", float64(time.Since(start).Microseconds())/1000)
	}
}

func errorBody(msg string) gin.H { return gin.H{"status": "error", "error": msg} }

// statusOf maps an app error to the HTTP status the sender should see.
func statusOf(err error) int {
	switch {
	case errors.Is(err, app.ErrBadEvent), errors.Is(err, app.ErrBadThreshold), errors.Is(err, app.ErrUnknownMetric):
		return http.StatusBadRequest
	case errors.Is(err, app.ErrUnknownQueue), errors.Is(err, app.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, app.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, app.ErrConflict):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
