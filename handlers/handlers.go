// Package handlers is slabot's HTTP edge: it authenticates and decodes
// requests from Genesys Cloud and Slack, calls the app, and renders the
// answer. Business rules live in app, not here.
package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/slabot/slabot/app"
)

// Ingester evaluates webhook events; *app.Engine implements it.
type Ingester interface {
	Ingest(ctx context.Context, ev app.Event) (app.Outcome, error)
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
}

// Observer is told about each webhook request; metrics implement it.
type Observer interface {
	WebhookEvent(format, outcome string)
	WebhookRequest(status int, elapsed time.Duration)
}

// Deps are the collaborators of the HTTP edge.
type Deps struct {
	Ingester Ingester
	Store    Pinger
	Webhook  WebhookAuth
	Observer Observer
	// Metrics serves GET /metrics when set.
	Metrics http.Handler
	Logger  *slog.Logger
}

// MaxBody bounds every request body (DESIGN §2.1).
const MaxBody = 1 << 20

// New returns slabot's HTTP handler with every route of routes.go.
func New(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Observer == nil {
		d.Observer = nopObserver{}
	}
	// Release mode: debug mode only prints routes and warnings to stdout.
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(recovery(d.Logger), requestLog(d.Logger))
	routes(r, d)
	return r
}

type nopObserver struct{}

func (nopObserver) WebhookEvent(string, string)       {}
func (nopObserver) WebhookRequest(int, time.Duration) {}

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
