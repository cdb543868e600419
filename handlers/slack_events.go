package handlers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/slack-go/slack/slackevents"

	"github.com/slabot/slabot/app/engine"
	"github.com/slabot/slabot/slackapi"
)

// eventsOnceFor is how long an Events API event_id is remembered. Slack
// retries a failed delivery three times within about an hour.
const eventsOnceFor = 2 * time.Hour

// events handles POST /slack/events (Events API): url_verification is
// answered with its challenge, everything else by slackCore.event. A 503
// makes Slack retry an event slabot could not record.
func events(core *slackCore) gin.HandlerFunc {
	return func(c *gin.Context) {
		raw, err := io.ReadAll(c.Request.Body)
		if err != nil {
			c.AbortWithStatusJSON(http.StatusBadRequest, errorBody("cannot read body"))
			return
		}
		env, err := decodeSlackEvent(raw)
		if err != nil {
			c.AbortWithStatusJSON(http.StatusBadRequest, errorBody("malformed event"))
			return
		}
		if env.Type == slackevents.URLVerification {
			c.JSON(http.StatusOK, gin.H{"challenge": env.Challenge})
			return
		}
		if err := core.event(c.Request.Context(), env); err != nil {
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, errorBody("state store unavailable"))
			return
		}
		c.JSON(http.StatusOK, gin.H{"ok": true})
	}
}

// publishHome shows user the App Home as it stands, with an optional
// notice (mrkdwn) at the top. Failures are logged: the next opening of the
// tab tries again.
func publishHome(ctx context.Context, d Deps, user, notice string) {
	h, err := homeContent(ctx, d)
	if err != nil {
		d.Logger.Warn("app home not published", "user_id", user, "err", err)
		return
	}
	h.Notice = notice
	if err := d.Home.PublishHome(ctx, user, h); err != nil {
		d.Logger.Warn("app home not published", "user_id", user, "err", err)
	}
}

// homeContent gathers what the App Home shows.
func homeContent(ctx context.Context, d Deps) (slackapi.Home, error) {
	ts, err := d.Records.Thresholds(ctx)
	if err != nil {
		return slackapi.Home{}, fmt.Errorf("thresholds: %w", err)
	}
	alerts, err := d.Records.OpenAlerts(ctx)
	if err != nil {
		return slackapi.Home{}, fmt.Errorf("open alerts: %w", err)
	}
	known, err := d.Records.KnownQueues(ctx)
	if err != nil {
		return slackapi.Home{}, fmt.Errorf("known queues: %w", err)
	}
	states, err := d.Records.QueueStates(ctx, stateIDs(known))
	if err != nil {
		return slackapi.Home{}, fmt.Errorf("queue states: %w", err)
	}
	now := d.Clock.Now()
	return slackapi.Home{
		Now:        now,
		Names:      known,
		Thresholds: withBuiltin(ts, d.BuiltinDefault),
		Alerts:     alerts,
		Snoozes:    activeSnoozes(states, now),
	}, nil
}

// Compile-time checks that what cmd wires fits: the engine acts, any
// engine.Records (the store) lists, and both Slack adapters show the Home.
var (
	_ Actions       = (*engine.Engine)(nil)
	_ Records       = engine.Records(nil)
	_ HomePublisher = (*slackapi.Client)(nil)
	_ HomePublisher = (*slackapi.Console)(nil)
)
