package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/slack-go/slack"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

// interaction handles POST /slack/interactions: clicks on an alert message
// or in the App Home, answered 200 once the click has done its work (see
// slackCore.interaction).
func interaction(core *slackCore) gin.HandlerFunc {
	return func(c *gin.Context) {
		ic, err := slack.InteractionCallbackParse(c.Request)
		if err != nil {
			c.AbortWithStatusJSON(http.StatusBadRequest, errorBody("malformed interaction payload"))
			return
		}
		core.interaction(c.Request.Context(), ic)
		c.Status(http.StatusOK)
	}
}

// clicks performs button actions.
type clicks struct {
	d  Deps
	bg *background
}

// act performs one block action. It returns what to tell the user (mrkdwn)
// and whether the click changed anything.
func (x *clicks) act(ctx context.Context, ba *slack.BlockAction, by app.Actor) (string, bool) {
	fail := func(err error) (string, bool) { return userMessage(err, "", x.d.Logger), false }
	switch ba.ActionID {
	case slackapi.ActionAck, slackapi.ActionResolve:
		id, episode, err := slackapi.ParseAlertValue(ba.Value)
		if err != nil {
			return fail(err)
		}
		do, done := x.d.Actions.Ack, "Acknowledged"
		if ba.ActionID == slackapi.ActionResolve {
			do, done = x.d.Actions.Resolve, "Resolved"
		}
		a, err := do(ctx, id, episode, by)
		if err != nil {
			var who []string
			if a.State == app.StateAcknowledged && validUserID(a.AckedBy) {
				who = append(who, slackapi.UserMention(a.AckedBy)) // "already acknowledged by <@U…>"
			}
			return userMessage(err, "", x.d.Logger, who...), false
		}
		return fmt.Sprintf("%s %s: %s.", done, alertLabel(a), a.Metric.Label()), true
	case slackapi.ActionSnooze:
		// A select has no value of its own: the block names the alert.
		id, episode, err := slackapi.ParseAlertValue(slackapi.BlockBase(ba.BlockID))
		if err != nil {
			return fail(err)
		}
		choice := ba.SelectedOption.Value
		if !slices.Contains(slackapi.SnoozeChoices(), choice) {
			return "That snooze length is not one slabot offers; nothing was changed.", false
		}
		dur, err := app.ParseDuration(choice)
		if err != nil {
			return fail(err)
		}
		a, err := x.current(ctx, id, episode)
		if err != nil {
			return fail(err)
		}
		until, err := x.d.Actions.Snooze(ctx, a.QueueID, dur, by)
		if err != nil {
			return fail(err)
		}
		return "Snoozed " + alertLabel(a) + " until " + slackapi.SlackTime(until) + ".", true
	case slackapi.ActionUnsnooze:
		id, _, err := slackapi.ParseAlertValue(ba.Value)
		if err != nil {
			return fail(err)
		}
		queueID, _, _, _ := app.ParseAlertID(id)
		return x.unsnooze(ctx, queueID, by)
	case slackapi.ActionUnsnoozeQueue:
		if ba.Value != app.AllQueues && app.ValidateQueueID(ba.Value) != nil {
			return "That button names no queue; nothing was changed.", false
		}
		if ba.Value == app.AllQueues && !isAdmin(x.d.Admins, by.UserID) {
			return capitalize(onlyAdminsUnsnoozeAll), false
		}
		return x.unsnooze(ctx, ba.Value, by)
	case slackapi.ActionDigestAck, slackapi.ActionDigestSnooze:
		return x.digest(ctx, ba, by)
	case slackapi.ActionChart:
		return x.chartClick(ctx, ba.Value, by)
	}
	return "", false // a control slabot does not handle, e.g. a link button
}

// digestActions are the storm digest's controls; *engine.Engine implements
// them.
type digestActions interface {
	AckDigest(ctx context.Context, digestID string, by app.Actor) ([]app.Alert, error)
	SnoozeDigest(ctx context.Context, digestID string, d time.Duration, by app.Actor) (time.Time, []string, error)
}

// digest performs a storm digest's Acknowledge all or Snooze all.
func (x *clicks) digest(ctx context.Context, ba *slack.BlockAction, by app.Actor) (string, bool) {
	da, ok := x.d.Actions.(digestActions)
	if !ok {
		return "This slabot cannot act on storm digests; nothing was changed.", false
	}
	id := ba.Value
	if ba.ActionID == slackapi.ActionDigestSnooze {
		id = slackapi.BlockBase(ba.BlockID) // a select has no value of its own
	}
	if _, _, err := app.ParseDigestID(id); err != nil {
		return "That button names no storm digest slabot knows; nothing was changed.", false
	}
	if ba.ActionID == slackapi.ActionDigestAck {
		acked, err := da.AckDigest(ctx, id, by)
		if err != nil && len(acked) == 0 {
			return userMessage(err, "", x.d.Logger), false
		}
		if err != nil {
			x.d.Logger.Warn("acknowledging a storm digest stopped early", "err", err, "acked", len(acked))
		}
		return fmt.Sprintf("Acknowledged %d %s of the storm; their reminders stop.", len(acked), plural(len(acked), "alert", "alerts")), true
	}
	choice := ba.SelectedOption.Value
	if !slices.Contains(slackapi.SnoozeChoices(), choice) {
		return "That snooze length is not one slabot offers; nothing was changed.", false
	}
	dur, err := app.ParseDuration(choice)
	if err != nil {
		return userMessage(err, "", x.d.Logger), false
	}
	until, queues, err := da.SnoozeDigest(ctx, id, dur, by)
	if err != nil {
		return userMessage(err, "", x.d.Logger), false
	}
	return fmt.Sprintf("Snoozed %d %s of the storm until %s. A breach still going on then is posted afresh.",
		len(queues), plural(len(queues), "queue", "queues"), slackapi.SlackTime(until)), true
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// current is the open alert id if episode is still its current breach: a
// snooze chosen on an old message must not act on a newer breach unseen.
func (x *clicks) current(ctx context.Context, id string, episode int) (app.Alert, error) {
	open, err := x.d.Records.OpenAlerts(ctx)
	if err != nil {
		return app.Alert{}, fmt.Errorf("open alerts: %w", err)
	}
	i := slices.IndexFunc(open, func(a app.Alert) bool { return a.ID == id })
	switch {
	case i < 0 || !open[i].State.Open():
		return app.Alert{}, fmt.Errorf("%w: the alert is already resolved", app.ErrStale)
	case open[i].Episode != episode:
		return app.Alert{}, fmt.Errorf("%w: this message is from an earlier breach; use the newest alert", app.ErrStale)
	}
	return open[i], nil
}

// unsnooze ends the snooze muting queueID: its own, or else the snooze of
// all queues, which is what mutes it.
func (x *clicks) unsnooze(ctx context.Context, queueID string, by app.Actor) (string, bool) {
	err := x.d.Actions.Unsnooze(ctx, queueID, by)
	if errors.Is(err, app.ErrStale) && queueID != app.AllQueues {
		if !isAdmin(x.d.Admins, by.UserID) {
			return "This queue has no snooze of its own: the snooze of all queues mutes it, and " + onlyAdminsUnsnoozeAll, false
		}
		if all := x.d.Actions.Unsnooze(ctx, app.AllQueues, by); all == nil {
			return "Ended the snooze of all queues.", true
		}
	}
	if err != nil {
		return userMessage(err, "", x.d.Logger), false
	}
	names, _ := x.d.Records.KnownQueues(ctx)
	return "Unsnoozed " + slackapi.QueueLabel(queueID, names) + ".", true
}

// feedback tells the user, after the answer, what their click did: App
// Home clicks re-publish the App Home with a notice; message clicks that
// changed nothing get an ephemeral note (a change shows in the message).
func (x *clicks) feedback(user, responseURL string, fromHome bool, notice string, changed bool) {
	switch {
	case fromHome && x.d.Home != nil && validUserID(user):
		x.bg.Go("publish app home", func(ctx context.Context) { publishHome(ctx, x.d, user, notice) })
	case !fromHome && !changed && notice != "" && responseURL != "":
		x.bg.Go("ephemeral reply", func(ctx context.Context) {
			if err := postEphemeral(ctx, x.d.SlackHTTPClient, responseURL, notice); err != nil {
				x.d.Logger.Warn("ephemeral reply failed", "user_id", user, "err", err)
			}
		})
	}
}

// onlyAdminsUnsnoozeAll refuses an unsnooze of all queues to a non-admin.
const onlyAdminsUnsnoozeAll = "only SLA admins may end the snooze of all queues (SLA_ADMINS); nothing was changed."

// isAdmin reports whether user may change rules and mute every queue:
// anyone when SLA_ADMINS is empty.
func isAdmin(admins []string, user string) bool {
	return len(admins) == 0 || slices.Contains(admins, user)
}

func alertLabel(a app.Alert) string {
	return slackapi.QueueLabel(a.QueueID, map[string]string{a.QueueID: a.QueueName})
}
