package handlers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"
	"github.com/slack-go/slack"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

// slashCommand handles POST /slack/commands: /sla, answered in the response
// within Slack's 3 s, ephemerally (DESIGN §3).
func slashCommand(core *slackCore) gin.HandlerFunc {
	return func(c *gin.Context) {
		sc, err := slack.SlashCommandParse(c.Request)
		if err != nil {
			c.AbortWithStatusJSON(http.StatusBadRequest, errorBody("malformed slash command"))
			return
		}
		c.JSON(http.StatusOK, core.command(c.Request.Context(), sc))
	}
}

// commands runs /sla subcommands: parse, check permission, resolve the
// queue, call the app, render.
type commands struct {
	d  Deps
	bg *background // work after the answer (the report's chart)
}

func (x *commands) run(ctx context.Context, sc slack.SlashCommand) string {
	cmd, err := parseCommand(sc.Text)
	cmd.typed = sc.Text
	x.d.Logger.Info("slack command", "user_id", sc.UserID, "subcommand", cmd.verb, "ok", err == nil)
	if adminOnly(cmd) && !x.isAdmin(sc.UserID) {
		return x.refusal()
	}
	var ue *usageError
	if errors.As(err, &ue) && ue.unknown != "" {
		return unknownVerb(ue.unknown)
	}
	if errors.As(err, &ue) && ue.verb == "" {
		return sentence(safeMrkdwn(ue.reason)) + " `/sla help` lists the commands."
	}
	if err != nil {
		return userMessage(err, usageOf(cmd.verb), x.d.Logger)
	}
	by := app.Actor{UserID: sc.UserID, Via: "command"}
	var out string
	switch cmd.verb {
	case verbHelp:
		return helpText(len(x.d.Admins) > 0)
	case verbSet:
		out, err = x.set(ctx, cmd, by)
	case verbUnset:
		out, err = x.unset(ctx, cmd, by)
	case verbList:
		out, err = x.list(ctx, cmd)
	case verbStatus:
		out, err = x.status(ctx, cmd)
	case verbSnooze:
		out, err = x.snooze(ctx, cmd, by)
	case verbUnsnooze:
		out, err = x.unsnooze(ctx, cmd, by)
	case verbAck:
		out, err = x.ack(ctx, cmd, by)
	case verbRoute:
		out, err = x.route(ctx, cmd, sc, by)
	case verbHistory:
		out, err = x.history(ctx, cmd)
	case verbHours:
		out, err = x.hours(ctx, cmd, by)
	case verbPreview:
		out, err = x.preview(ctx, cmd)
	case verbReport:
		out, err = x.report(ctx, cmd, sc.ChannelID)
	case verbChart:
		out, err = x.chart(ctx, cmd, sc.ChannelID, by)
	}
	if err != nil {
		return userMessage(err, usageOf(cmd.verb), x.d.Logger)
	}
	return out
}

// adminOnly reports whether a command changes rules (/sla hours with no
// hours only shows them), or mutes or unmutes every queue at once.
func adminOnly(cmd command) bool {
	switch cmd.verb {
	case verbSet, verbUnset, verbRoute:
		return true
	case verbHours:
		return !cmd.hoursShow
	case verbSnooze, verbUnsnooze:
		return cmd.queue.keyword(app.AllQueues)
	}
	return false
}

func (x *commands) isAdmin(user string) bool { return isAdmin(x.d.Admins, user) }

func (x *commands) refusal() string {
	s := "Only SLA admins may change thresholds, routes and business hours, or snooze all queues (`set`, `unset`, `route`, `hours`, `snooze all`, `unsnooze all`); nothing was changed."
	var who []string
	for _, id := range x.d.Admins {
		if validUserID(id) && len(who) < 5 {
			who = append(who, slackapi.UserMention(id))
		}
	}
	if len(who) > 0 {
		s += " Ask " + strings.Join(who, ", ") + "."
	}
	return s
}

// resolve turns a queue argument into a queue. The keywords default (the
// fallback rule) and all (every queue) apply only where allowed.
func resolveQueueArg(verb string, q queueArg, known map[string]string) (app.QueueRef, error) {
	allowDefault := verb == verbSet || verb == verbUnset || verb == verbHistory || verb == verbHours || verb == verbPreview || verb == verbList
	allowAll := verb == verbSnooze || verb == verbUnsnooze || verb == verbHistory
	switch {
	case q.keyword(app.DefaultQueue) && allowDefault:
		return app.QueueRef{ID: app.DefaultQueue, Known: true}, nil
	case q.keyword(app.AllQueues) && allowAll:
		return app.QueueRef{ID: app.AllQueues, Known: true}, nil
	case q.keyword(app.DefaultQueue) && allowAll:
		return app.QueueRef{}, usagef(verb, "default is the fallback rule, not a queue; use all for every queue")
	case q.keyword(app.DefaultQueue):
		return app.QueueRef{}, usagef(verb, "default is the fallback rule, not a queue; name one queue")
	case q.keyword(app.AllQueues) && allowDefault:
		return app.QueueRef{}, usagef(verb, "use default for the rule of every queue without its own")
	case q.keyword(app.AllQueues):
		return app.QueueRef{}, usagef(verb, "name one queue")
	}
	return app.ResolveQueue(known, q.text)
}

// resolveAhead resolves a queue argument for a command that may name a
// queue before its first event (set, snooze, route, hours). A name slabot
// has not seen is looked up in the Genesys Cloud directory when there is
// one; the queue then resolves by its ID, unseen, with the directory's
// name (see named). Otherwise the error
// says how to name the queue by its ID.
func (x *commands) resolveAhead(ctx context.Context, cmd command, known map[string]string) (app.QueueRef, error) {
	ref, err := resolveQueueArg(cmd.verb, cmd.queue, known)
	var uq *app.UnknownQueueError
	if !errors.As(err, &uq) || len(uq.Ambiguous) > 0 || strings.TrimSpace(uq.Arg) == "" {
		return ref, err
	}
	nf := &queueNotFound{UnknownQueueError: uq, example: idExample(cmd)}
	if x.d.Directory == nil {
		return ref, nf
	}
	// The lookup leaves the command time to answer within Slack's 3 s
	// and to do its own work once the queue is found.
	lctx, cancel := context.WithTimeout(ctx, directoryWait)
	found, derr := x.d.Directory.QueuesNamed(lctx, uq.Arg)
	cancel()
	switch {
	case derr != nil:
		x.d.Logger.Warn("queue directory lookup failed", "err", derr)
		nf.lookupFailed = true
		return ref, nf
	case len(found) == 0:
		nf.asked = true
		return ref, nf
	case len(found) > 1:
		ids := make([]string, len(found))
		for i, q := range found {
			ids[i] = q.ID
		}
		return ref, &app.UnknownQueueError{Arg: uq.Arg, Ambiguous: ids}
	}
	q := found[0]
	if !app.LooksLikeQueueID(q.ID) {
		x.d.Logger.Warn("queue directory answered an ID that is no queue ID", "queue_id", clipArg(q.ID))
		nf.asked = true
		return ref, nf
	}
	return app.QueueRef{ID: q.ID, Name: q.Name}, nil
}

// queueNamer records a queue's name from the directory; *store.Redis
// implements it, and Records that do not are left as they are.
type queueNamer interface {
	NameQueue(ctx context.Context, queueID, name string) error
}

// remember records the name of a queue only the directory knew, once a
// command on it succeeded, so that its alerts and listings show the name
// and the next command finds it without asking Genesys Cloud again. A
// failure only costs that: it is logged.
func (x *commands) remember(ctx context.Context, ref app.QueueRef) {
	n, ok := x.d.Records.(queueNamer)
	if !ok || ref.Known || ref.Name == "" {
		return
	}
	if err := n.NameQueue(ctx, ref.ID, ref.Name); err != nil {
		x.d.Logger.Warn("queue name from the directory not recorded", "queue_id", ref.ID, "err", err)
	}
}

// named is known with ref's name added when only the directory knew it,
// so that the answer names the queue; known itself is left alone.
func named(known map[string]string, ref app.QueueRef) map[string]string {
	if ref.Name == "" || known[ref.ID] != "" {
		return known
	}
	out := maps.Clone(known)
	if out == nil {
		out = make(map[string]string, 1)
	}
	out[ref.ID] = ref.Name
	return out
}

// directoryWait bounds a directory lookup within slackDeadline.
const directoryWait = 1500 * time.Millisecond

// queueNotFound is a queue name that neither events nor the directory
// know, in a command that could name the queue by its ID instead.
type queueNotFound struct {
	*app.UnknownQueueError
	// example is the command as typed with the queue as <queue-id>.
	example string
	// asked says the Genesys Cloud directory was asked and knows no
	// queue of that name; lookupFailed that asking it failed. Neither
	// is set without Genesys API credentials.
	asked, lookupFailed bool
}

// Unwrap makes errors.As find the *app.UnknownQueueError.
func (e *queueNotFound) Unwrap() error { return e.UnknownQueueError }

// idExample is the command as typed with its queue replaced by
// <queue-id>, or the subcommand's usage so changed when the queue
// cannot be found in the text.
func idExample(cmd command) string {
	typed := slackEntities.Replace(strings.TrimSpace(cmd.typed)) // as the queue was decoded
	first := strings.IndexFunc(typed, unicode.IsSpace)
	if first > 0 && cmd.queue.text != "" {
		rest := typed[first:]
		for _, form := range []string{`"` + cmd.queue.text + `"`, "“" + cmd.queue.text + "”", cmd.queue.text} {
			if i := strings.Index(rest, form); i >= 0 {
				return clipExample("/sla " + typed[:first] + rest[:i] + "<queue-id>" + rest[i+len(form):])
			}
		}
	}
	u := usageOf(cmd.verb)
	u = strings.Replace(u, "<queue>|default", "<queue-id>", 1)
	u = strings.Replace(u, "<queue>|all", "<queue-id>", 1)
	return strings.Replace(u, "<queue>", "<queue-id>", 1)
}

func clipExample(s string) string {
	if r := []rune(s); len(r) > 200 {
		return string(r[:199]) + "…"
	}
	return s
}

func (x *commands) known(ctx context.Context) (map[string]string, error) {
	known, err := x.d.Records.KnownQueues(ctx)
	if err != nil {
		return nil, fmt.Errorf("known queues: %w", err)
	}
	return known, nil
}

// unseen notes that a queue was given by an ID no event has named yet.
func unseen(ref app.QueueRef) string {
	if ref.Known {
		return ""
	}
	if ref.Name != "" {
		return "\nFound in the Genesys Cloud queue directory (ID `" + ref.ID + "`); no event has come from " +
			slackapi.QueueLabel(ref.ID, map[string]string{ref.ID: ref.Name}) + " yet, and this applies as soon as one does."
	}
	return "\nNo Genesys event has named queue `" + ref.ID + "` yet; this applies as soon as one does."
}

func (x *commands) set(ctx context.Context, cmd command, by app.Actor) (string, error) {
	known, err := x.known(ctx)
	if err != nil {
		return "", err
	}
	ref, err := x.resolveAhead(ctx, cmd, known)
	if err != nil {
		return "", err
	}
	known = named(known, ref)
	t := cmd.threshold(ref.ID)
	old, err := x.d.Actions.SetThreshold(ctx, t, by)
	if err != nil {
		return "", err
	}
	x.remember(ctx, ref)
	t.SetBy = ""
	s := "Threshold set: " + slackapi.ThresholdLine(t, known) + "."
	if old != nil {
		o := *old
		o.SetBy = ""
		s += "\nIt was: " + slackapi.ThresholdLine(o, known) + "."
	}
	if ref.Known {
		s += x.setPreview(ctx, t)
	}
	return s + x.waitingForData(ctx, ref.ID, known) + unseen(ref), nil
}

func (x *commands) unset(ctx context.Context, cmd command, by app.Actor) (string, error) {
	known, err := x.known(ctx)
	if err != nil {
		return "", err
	}
	ref, err := resolveQueueArg(verbUnset, cmd.queue, known)
	if err != nil {
		return "", err
	}
	removed, err := x.d.Actions.UnsetThreshold(ctx, ref.ID, cmd.media, cmd.metric, by)
	builtin := x.d.BuiltinDefault
	coversBuiltin := ref.ID == app.DefaultQueue && builtin != nil && (cmd.metric == "" || cmd.metric == builtin.Metric)
	if errors.Is(err, app.ErrStale) && coversBuiltin {
		return "", fmt.Errorf("%w: the built-in default (%s %s) comes from SLA_DEFAULT_LONGEST_WAIT; set it to off to remove it, or override it with /sla set default %s <value>",
			err, builtin.Metric, builtin.Metric.FormatValue(builtin.Value), builtin.Metric)
	}
	if err != nil {
		return "", err
	}
	lines := []string{"Removed:"}
	for _, t := range removed {
		t.SetBy = ""
		lines = append(lines, "• "+slackapi.ThresholdLine(t, known))
	}
	if coversBuiltin && slices.ContainsFunc(removed, func(t app.Threshold) bool {
		return t.Metric == builtin.Metric && app.BuiltinApplies(t.MediaType) // nothing is built in for email
	}) {
		lines = append(lines, "The built-in default applies again: "+slackapi.ThresholdLine(*builtin, known)+".")
	}
	return strings.Join(lines, "\n") + x.waitingForData(ctx, ref.ID, known), nil
}

func (x *commands) snooze(ctx context.Context, cmd command, by app.Actor) (string, error) {
	known, err := x.known(ctx)
	if err != nil {
		return "", err
	}
	ref, err := x.resolveAhead(ctx, cmd, known)
	if err != nil {
		return "", err
	}
	known = named(known, ref)
	until, err := x.d.Actions.Snooze(ctx, ref.ID, cmd.dur, by)
	if err != nil {
		return "", err
	}
	x.remember(ctx, ref)
	return fmt.Sprintf("Snoozed %s until %s (%s): open alerts show as snoozed and nothing new is posted. "+
		"A breach still going on when the snooze ends is posted afresh.%s",
		slackapi.QueueLabel(ref.ID, known), slackapi.SlackTime(until), app.FormatDuration(cmd.dur), unseen(ref)), nil
}

func (x *commands) unsnooze(ctx context.Context, cmd command, by app.Actor) (string, error) {
	known, err := x.known(ctx)
	if err != nil {
		return "", err
	}
	ref, err := resolveQueueArg(verbUnsnooze, cmd.queue, known)
	if err != nil {
		return "", err
	}
	if err := x.d.Actions.Unsnooze(ctx, ref.ID, by); err != nil {
		return "", err
	}
	return "Unsnoozed " + slackapi.QueueLabel(ref.ID, known) + ": alerts post again, and a breach still going on is posted afresh.", nil
}

func (x *commands) ack(ctx context.Context, cmd command, by app.Actor) (string, error) {
	if cmd.queue.keyword(app.AllQueues) {
		return x.ackAll(ctx, by)
	}
	known, err := x.known(ctx)
	if err != nil {
		return "", err
	}
	ref, err := resolveQueueArg(verbAck, cmd.queue, known)
	if err != nil {
		return "", err
	}
	acked, err := x.d.Actions.AckQueue(ctx, ref.ID, by)
	if err != nil {
		return "", err
	}
	parts := make([]string, len(acked))
	for i, a := range acked {
		parts[i] = a.Metric.Label() + " " + a.Metric.FormatValue(a.Value)
	}
	noun := "alert"
	if len(acked) != 1 {
		noun = "alerts"
	}
	return fmt.Sprintf("Acknowledged %d %s on %s (%s); reminders stop for this breach.",
		len(acked), noun, slackapi.QueueLabel(ref.ID, known), strings.Join(parts, ", ")), nil
}

func (x *commands) route(ctx context.Context, cmd command, sc slack.SlashCommand, by app.Actor) (string, error) {
	channel, err := routeTarget(cmd.channel, sc)
	if err != nil {
		return "", err
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
	isDefault := channel != "" && channel == x.d.DefaultChannel
	if isDefault {
		channel = "" // a route to the default channel is no route
	}
	if err := x.d.Actions.Route(ctx, ref.ID, channel, by); err != nil {
		return "", err
	}
	x.remember(ctx, ref)
	label := slackapi.QueueLabel(ref.ID, known)
	if isDefault {
		return "This is the default alert channel (SLACK_CHANNEL_ID): alerts of " + label + " come here without a route, so it has none now." + unseen(ref), nil
	}
	if channel == "" {
		return "Alerts of " + label + " now go to the default channel (SLACK_CHANNEL_ID)." + unseen(ref), nil
	}
	return "Alerts of " + label + " now go to <#" + channel + ">. Alerts already open stay where they are. " +
		"In a private channel, invite the bot first: `/invite @slabot`." + unseen(ref), nil
}

// routeTarget is the channel ID a route names ("" for the default). A bare
// #name carries no ID (the command is set up with escaping off), and
// looking names up would need another scope, so only the channel the
// command is typed in can be named that way.
func routeTarget(ch channelArg, sc slack.SlashCommand) (string, error) {
	switch {
	case ch.clear:
		return "", nil
	case ch.id != "":
		return ch.id, nil
	case ch.here || strings.EqualFold(ch.name, sc.ChannelName):
		if !commandChannel(sc.ChannelID) {
			return "", usagef(verbRoute, "alerts go to channels, not to direct messages; run this in the channel")
		}
		return sc.ChannelID, nil
	}
	return "", usagef(verbRoute, "Slack sent '#%s' as plain text, without its channel ID. Run `/sla route <queue> here` in that channel, "+
		"or give the channel ID (channel details → About, at the bottom: C…)", clipArg(ch.name))
}

// maxReply keeps an answer well inside what Slack shows of a message.
const maxReply = 3900

func clipText(s string) string {
	r := []rune(s)
	if len(r) <= maxReply {
		return s
	}
	cut := string(r[:maxReply])
	if i := strings.LastIndexByte(cut, '\n'); i > 0 {
		cut = cut[:i]
	}
	return cut + "\n…(cut short)"
}

// commandChannel accepts the channel a command came from as a route:
// Slack names it, so any channel ID shape it uses will do (public C…,
// private G…, of any length), but never a direct message (D…).
func commandChannel(id string) bool {
	return app.ValidChannel(id) && (id[0] == 'C' || id[0] == 'G')
}

// validUserID accepts Slack user IDs (U… or W… for Enterprise Grid).
func validUserID(id string) bool {
	if len(id) < 2 || len(id) > 32 || (id[0] != 'U' && id[0] != 'W') {
		return false
	}
	for _, r := range id {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}
