package handlers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

// hoursActions set and read business hours; *engine.Engine implements them.
type hoursActions interface {
	SetHours(ctx context.Context, queueID string, h app.Hours, by app.Actor) (app.Hours, error)
	HoursOf(ctx context.Context, queueID string) (h app.Hours, own bool, err error)
}

func (x *commands) hours(ctx context.Context, cmd command, by app.Actor) (string, error) {
	ha, ok := x.d.Actions.(hoursActions)
	if !ok {
		return "This slabot cannot keep business hours; nothing was changed.", nil
	}
	known, err := x.known(ctx)
	if err != nil {
		return "", err
	}
	ref, err := x.resolveAhead(ctx, cmd, known)
	if err != nil {
		return "", err
	}
	known = named(known, ref)
	label, now := slackapi.QueueLabel(ref.ID, known), x.d.Clock.Now()
	if cmd.hoursShow {
		h, own, err := ha.HoursOf(ctx, ref.ID)
		if err != nil {
			return "", fmt.Errorf("hours: %w", err)
		}
		from := ""
		if !own && h.Set() && ref.ID != app.DefaultQueue {
			from = " (the default's)"
		}
		return "Business hours of " + label + from + ": " + describeHours(h, now) + ".", nil
	}
	var h app.Hours
	if !cmd.hoursInherit {
		if h, err = app.ParseHours(strings.Fields(cmd.hours)); err != nil {
			return "", err
		}
	}
	old, err := ha.SetHours(ctx, ref.ID, h, by)
	if err != nil {
		return "", err
	}
	x.remember(ctx, ref)
	var s string
	switch {
	case cmd.hoursInherit:
		eff, _, err := ha.HoursOf(ctx, ref.ID)
		if err != nil {
			return "", fmt.Errorf("hours: %w", err)
		}
		s = label + " now follows the default business hours: " + describeHours(eff, now) + "."
	case !h.Set() || h.Always:
		s = "Business hours of " + label + ": always. Its alerts fire at any time."
	default:
		s = "Business hours of " + label + ": " + describeHours(h, now) + ". Outside them no alert fires for it, " +
			"open alerts resolve quietly, and alerts re-arm at opening time."
	}
	if old.Set() {
		s += "\nThey were: " + slackapi.Escape(old.String()) + "."
	}
	return s + x.waitingForData(ctx, ref.ID, known) + unseen(ref), nil
}

// describeHours renders hours and where now stands in them.
func describeHours(h app.Hours, now time.Time) string {
	if !h.Set() || h.Always {
		return "always"
	}
	s := "`" + slackapi.Escape(h.String()) + "`"
	open, next := h.OpenAt(now)
	switch {
	case next.IsZero() && open:
		return s + " (open now)"
	case next.IsZero():
		return s + " (closed now)"
	case open:
		return s + " (open now; closes " + slackapi.SlackTime(next) + ")"
	}
	return s + " (closed now; opens " + slackapi.SlackTime(next) + ")"
}

// parseHours reads <queue> followed by hours (days and time ranges, then a
// zone), always, default, or nothing (show them). Reading right to left
// keeps unquoted names with spaces working.
func (c *command) parseHours(args []token) error {
	n := len(args)
	if n == 0 {
		return usagef(verbHours, "give a queue (or default), then its hours, e.g. Mon-Fri 08:00-18:00 Europe/London")
	}
	queue := args
	last := args[n-1]
	switch {
	case n >= 2 && last.keyword("always"):
		c.hours, queue = "always", args[:n-1]
	case n >= 2 && last.keyword(app.DefaultQueue):
		c.hoursInherit, queue = true, args[:n-1]
		if len(queue) == 1 && queue[0].keyword(app.DefaultQueue) {
			return usagef(verbHours, "the default hours have no default; use /sla hours default always to remove them")
		}
	case !last.quoted && isHoursWord(last.text):
		return usagef(verbHours, "end with a time zone, e.g. %s Europe/London", clipArg(last.text))
	default:
		j := n - 1
		for j > 0 && !args[j-1].quoted && !args[j-1].ref && isHoursWord(args[j-1].text) {
			j--
		}
		if j == n-1 && n >= 2 && looksLikeZone(last.text) {
			return usagef(verbHours, "'%s' is neither days (Mon-Fri, Sat,Sun, daily) nor hours (08:00-18:00)", clipArg(args[n-2].text))
		}
		if j == n-1 {
			c.hoursShow = true
			break
		}
		words := make([]string, 0, n-j)
		for _, t := range args[j:] {
			words = append(words, t.text)
		}
		if _, err := app.ParseHours(words); err != nil {
			return &usageError{verb: verbHours, reason: reasonOf(err)}
		}
		c.hours, queue = strings.Join(words, " "), args[:j]
	}
	var err error
	c.queue, err = joinQueue(verbHours, queue)
	return err
}

// looksLikeZone reports whether s reads as an IANA zone name rather than
// the end of a queue name.
func looksLikeZone(s string) bool {
	return strings.Contains(s, "/") || strings.EqualFold(s, "UTC") || strings.EqualFold(s, "GMT")
}

// isHoursWord reports whether s is a day set or a time range.
func isHoursWord(s string) bool {
	if _, ok := app.ParseWeekdays(s); ok {
		return true
	}
	_, _, ok := app.ParseTimeRange(s)
	return ok
}
