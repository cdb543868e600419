package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/slabot/slabot/app"
)

// slackCore is what slabot does with a Slack request once a transport has
// delivered it: the HTTP routes (after verifying the signature) and the
// Socket Mode connection (after the envelope arrives) call the same
// methods, so team checks, admin rules and answers cannot drift apart.
type slackCore struct {
	d      Deps
	bg     *background
	cmds   *commands
	clicks *clicks
}

func newSlackCore(d Deps, bg *background) *slackCore {
	return &slackCore{d: d, bg: bg, cmds: &commands{d: d, bg: bg}, clicks: &clicks{d: d, bg: bg}}
}

// ephemeral is a slash command's answer: shown to the user who typed it
// alone. It is the HTTP response body and the Socket Mode ack payload.
type ephemeral struct {
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
}

// command runs one /sla command and returns its answer, within Slack's
// 3 s (the work gets slackDeadline of it).
func (s *slackCore) command(ctx context.Context, sc slack.SlashCommand) ephemeral {
	var text string
	switch {
	case !teamAllowed(s.d.Slack, sc.TeamID):
		s.d.Logger.Warn("slack command from another workspace refused", "team_id", sc.TeamID)
		text = "This slabot serves another Slack workspace; nothing was changed."
	case !validUserID(sc.UserID):
		text = "Slack did not say who you are, so nothing was changed."
	default:
		ctx, cancel := context.WithTimeout(ctx, slackDeadline)
		defer cancel()
		text = s.cmds.run(ctx, sc)
	}
	return ephemeral{ResponseType: "ephemeral", Text: clipText(text)}
}

// interaction performs one click on an alert message or in the App Home
// (DESIGN §3, §5). The state change happens before it returns, atomically
// in the store, and the engine enqueues the update of the clicked message
// itself. A click that changes nothing (a double click, a stale message)
// is explained to the clicking user alone, in the background after the
// return: ephemerally through response_url for a message, in a
// re-published App Home for the App Home. The transport answers Slack when
// it returns.
func (s *slackCore) interaction(ctx context.Context, ic slack.InteractionCallback) {
	if ic.Type != slack.InteractionTypeBlockActions || len(ic.ActionCallback.BlockActions) == 0 {
		return // nothing slabot offers: no modals, no shortcuts
	}
	fromHome := ic.View.Type == slack.VTHomeTab || ic.Container.Type == "view"
	via := "button"
	if fromHome {
		via = "home"
	}
	var (
		notice  string
		changed bool
	)
	switch {
	case !teamAllowed(s.d.Slack, ic.Team.ID):
		s.d.Logger.Warn("slack interaction from another workspace refused", "team_id", ic.Team.ID)
		notice = "This slabot serves another Slack workspace; nothing was changed."
		fromHome = false // never publish into a workspace slabot does not serve
	case !validUserID(ic.User.ID):
		notice = "Slack did not say who you are, so nothing was changed."
	default:
		ctx, cancel := context.WithTimeout(ctx, slackDeadline)
		notice, changed = s.clicks.act(ctx, ic.ActionCallback.BlockActions[0], app.Actor{UserID: ic.User.ID, Via: via})
		cancel()
	}
	s.clicks.feedback(ic.User.ID, ic.ResponseURL, fromHome, notice, changed)
}

// eventPayload is an Events API payload: the HTTP request body, or a
// Socket Mode events_api envelope's payload.
type eventPayload struct {
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

// errMalformed is a payload that does not decode; errRetryLater asks
// Slack to deliver the event again (the state store is unreachable).
var (
	errMalformed  = errors.New("malformed payload")
	errRetryLater = errors.New("state store unavailable")
)

// decodeSlackEvent decodes an Events API payload.
func decodeSlackEvent(raw []byte) (eventPayload, error) {
	var ev eventPayload
	if err := json.Unmarshal(raw, &ev); err != nil {
		return ev, fmt.Errorf("%w: %w", errMalformed, err)
	}
	return ev, nil
}

// event handles one Events API event: app_home_opened on the Home tab
// publishes the App Home for that user once per event_id, after the
// return, so a slow views.publish never makes Slack retry. Everything else
// is ignored. It returns errRetryLater when it cannot record the event_id:
// Slack then retries, by which time Redis may be back.
func (s *slackCore) event(ctx context.Context, env eventPayload) error {
	if env.Type != slackevents.CallbackEvent {
		return nil
	}
	if !teamAllowed(s.d.Slack, env.TeamID) {
		// Acknowledged all the same: failures would only make Slack retry,
		// and in the end turn the app's events off.
		s.d.Logger.Warn("slack event from another workspace ignored", "team_id", env.TeamID)
		return nil
	}
	ev := env.Event
	if ev.Type != string(slackevents.AppHomeOpened) || ev.Tab != "home" || s.d.Home == nil || !validUserID(ev.User) {
		return nil
	}
	if env.EventID != "" && s.d.Once != nil {
		ctx, cancel := context.WithTimeout(ctx, slackDeadline)
		first, err := s.d.Once.MarkOnce(ctx, "slack-event:"+clipArg(env.EventID), eventsOnceFor)
		cancel()
		if err != nil {
			s.d.Logger.Warn("slack event not recorded; Slack will retry", "event_id", env.EventID, "err", err)
			return fmt.Errorf("%w: %w", errRetryLater, err)
		}
		if !first {
			s.d.Logger.Debug("slack event retry ignored", "event_id", env.EventID)
			return nil
		}
	}
	d, user := s.d, ev.User
	s.bg.Go("publish app home", func(ctx context.Context) { publishHome(ctx, d, user, "") })
	return nil
}
