package handlers

import (
	"context"
	"encoding/json"
	"fmt"
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
// answered with its challenge; app_home_opened on the Home tab publishes
// the App Home for that user once per event_id, after the answer, so a
// slow views.publish never makes Slack retry. Everything else is
// acknowledged and ignored.
func events(d Deps, bg *background) gin.HandlerFunc {
	type envelope struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
		TeamID    string `json:"team_id"`
		EventID   string `json:"event_id"`
		Event     struct {
			Type string `json:"type"`
			User string `json:"user"`
			Tab  string `json:"tab"`
		} `json:"event"`
	}
	return func(c *gin.Context) {
		var env envelope
		if err := json.NewDecoder(c.Request.Body).Decode(&env); err != nil {
			c.AbortWithStatusJSON(http.StatusBadRequest, errorBody("malformed event"))
			return
		}
		switch env.Type {
		case slackevents.URLVerification:
			c.JSON(http.StatusOK, gin.H{"challenge": env.Challenge})
			return
		case slackevents.CallbackEvent:
		default:
			c.JSON(http.StatusOK, gin.H{"ok": true})
			return
		}
		if !teamAllowed(d.Slack, env.TeamID) {
			// Answered 200 all the same: failures would only make Slack
			// retry, and in the end turn the app's events off.
			d.Logger.Warn("slack event from another workspace ignored", "team_id", env.TeamID)
			c.JSON(http.StatusOK, gin.H{"ok": true})
			return
		}
		ev := env.Event
		if ev.Type != string(slackevents.AppHomeOpened) || ev.Tab != "home" || d.Home == nil || !validUserID(ev.User) {
			c.JSON(http.StatusOK, gin.H{"ok": true})
			return
		}
		if env.EventID != "" && d.Once != nil {
			ctx, cancel := context.WithTimeout(c.Request.Context(), slackDeadline)
			first, err := d.Once.MarkOnce(ctx, "slack-event:"+clipArg(env.EventID), eventsOnceFor)
			cancel()
			if err != nil {
				// Slack retries a 5xx, by which time Redis may be back.
				d.Logger.Warn("slack event not recorded; Slack will retry", "event_id", env.EventID, "err", err)
				c.AbortWithStatusJSON(http.StatusServiceUnavailable, errorBody("state store unavailable"))
				return
			}
			if !first {
				d.Logger.Debug("slack event retry ignored", "event_id", env.EventID, "retry", c.GetHeader("X-Slack-Retry-Num"))
				c.JSON(http.StatusOK, gin.H{"ok": true})
				return
			}
		}
		user := ev.User
		bg.Go("publish app home", func(ctx context.Context) { publishHome(ctx, d, user, "") })
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
