package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/slabot/slabot"
	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
	"github.com/slabot/slabot/genesys"
	"github.com/slabot/slabot/slackapi"
)

// setupTimeout bounds each remote check, so a wrong URL fails fast.
const setupTimeout = 15 * time.Second

// setup checks the credentials slabot was given and prints what an operator
// needs to finish an install: the Slack app manifest for publicURL and the
// steps to point Genesys Cloud at the webhook. Each failed check says what
// to fix; setup returns an error when any check failed.
func setup(ctx context.Context, cfg Config, publicURL string, stdout io.Writer) error {
	var failed []string
	check := func(name string, err error, fix string) bool {
		if err == nil {
			fmt.Fprintf(stdout, "✔ %s\n", name)
			return true
		}
		failed = append(failed, name)
		fmt.Fprintf(stdout, "✘ %s: %v\n", name, err)
		if fix != "" {
			fmt.Fprintf(stdout, "    fix: %s\n", fix)
		}
		return false
	}
	fmt.Fprintln(stdout, "slabot setup")
	fmt.Fprintln(stdout)

	region, err := genesys.ResolveRegion(cfg.GenesysRegion)
	check("GENESYS_REGION", err, "use an AWS region (eu-west-1), a Genesys domain (mypurecloud.ie) or a base URL")

	if cfg.Local() {
		failed = append(failed, "SLACK_BOT_TOKEN")
		fmt.Fprintln(stdout, "✘ SLACK_BOT_TOKEN is not set: create the Slack app from the manifest below, install it, and set SLACK_BOT_TOKEN (xoxb-…), SLACK_SIGNING_SECRET and SLACK_CHANNEL_ID")
	} else {
		checkSlack(ctx, cfg, check, stdout)
	}
	if cfg.SocketMode() && !cfg.Local() {
		checkSocketMode(ctx, cfg, check)
	}

	if cfg.Polling() && err == nil {
		client := genesys.NewClient(region, cfg.GenesysClientID, string(cfg.GenesysClientSecret), genesys.ClientOptions{})
		cctx, cancel := context.WithTimeout(ctx, setupTimeout)
		queues, err := client.Check(cctx)
		cancel()
		fix := ""
		switch {
		case errors.Is(err, genesys.ErrBadCredentials):
			fix = "check GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET (an OAuth client with the Client Credentials grant) and GENESYS_REGION"
		case err != nil:
			fix = strings.ReplaceAll(genesys.RequiredPermissions, "\n", "\n    ")
		}
		if check(fmt.Sprintf("Genesys Cloud API at %s", region.API), err, fix) || len(queues) > 0 {
			printQueues(stdout, queues)
			printTargets(stdout, queues)
		}
	} else {
		fmt.Fprintln(stdout, "• Genesys polling is off (GENESYS_CLIENT_ID/GENESYS_CLIENT_SECRET not set): slabot relies on webhooks")
	}

	switch {
	case cfg.WebhookSecret != "" || cfg.WebhookToken != "":
		fmt.Fprintln(stdout, "✔ webhook authentication is configured")
	case cfg.Polling():
		fmt.Fprintln(stdout, "• the webhook is closed (polling only); set GENESYS_WEBHOOK_TOKEN to open it")
	case cfg.SocketMode():
		fmt.Fprintln(stdout, "• no Genesys input: /sla works, but no alert can fire; set GENESYS_CLIENT_ID/GENESYS_CLIENT_SECRET (polling needs no public URL either)")
	default:
		check("webhook authentication", errors.New("neither GENESYS_WEBHOOK_TOKEN nor GENESYS_WEBHOOK_SECRET is set"),
			"set GENESYS_WEBHOOK_TOKEN to a long random string (e.g. openssl rand -hex 32)")
	}

	printNextSteps(stdout, publicURL, cfg.SocketMode())
	if len(failed) > 0 {
		return fmt.Errorf("setup: %d check(s) failed: %s", len(failed), strings.Join(failed, ", "))
	}
	fmt.Fprintln(stdout, "\nAll checks passed.")
	return nil
}

func checkSlack(ctx context.Context, cfg Config, check func(string, error, string) bool, stdout io.Writer) {
	client := slackapi.New(string(cfg.SlackBotToken), slackapi.Options{APIURL: cfg.SlackAPIURL})
	cctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	team, user, err := client.AuthTest(cctx)
	if !check("Slack token (auth.test)", err, fixOf(err, "check SLACK_BOT_TOKEN: the Bot User OAuth Token (xoxb-…) from OAuth & Permissions")) {
		return
	}
	fmt.Fprintf(stdout, "    workspace %q, bot @%s\n", team, user)
	// conversations.history, not conversations.info: the manifest has the
	// history scopes (Find needs them) but not channels:read.
	err = client.CheckChannel(cctx, cfg.SlackChannelID)
	fix := fixOf(err, "set SLACK_CHANNEL_ID to the ID of an existing channel (channel details → bottom of the About tab)")
	if errors.Is(err, slackapi.ErrNotInChannel) {
		fix = fmt.Sprintf("in that channel type /invite @%s (alerts post without it, but charts and the check for duplicate posts need it)", user)
	}
	if check("SLACK_CHANNEL_ID "+cfg.SlackChannelID, err, fix) {
		fmt.Fprintln(stdout, "    the bot is in the channel and can read it")
	}
}

// checkSocketMode asks Slack for a Socket Mode connection URL with the
// app-level token, as slabot does at start-up (the URL is not dialled).
func checkSocketMode(ctx context.Context, cfg Config, check func(string, error, string) bool) {
	api := slack.New("", slack.OptionAppLevelToken(string(cfg.SlackAppToken)), slack.OptionAPIURL(strings.TrimRight(cfg.SlackAPIURL, "/")+"/"))
	cctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	_, _, err := api.StartSocketModeContext(cctx)
	check("Slack app-level token (apps.connections.open)", err,
		"set SLACK_APP_TOKEN to an app-level token with connections:write (Basic Information → App-Level Tokens), and turn Socket Mode on (Settings → Socket Mode)")
}

// fixOf is the remote's own fix when it gave one, else def.
func fixOf(err error, def string) string {
	var de *dispatch.DeliveryError
	if errors.As(err, &de) && de.Fix != "" {
		return de.Fix
	}
	return def
}

func printQueues(w io.Writer, queues []app.QueueInfo) {
	fmt.Fprintf(w, "    %d queue(s) visible:\n", len(queues))
	for _, q := range queues {
		var targets []string
		for media, sl := range q.ServiceLevels {
			targets = append(targets, fmt.Sprintf("%s %.0f%% in %s", media, sl.Percent*percentScale(sl.Percent), app.FormatDuration(sl.Within)))
		}
		slices.Sort(targets)
		fmt.Fprintf(w, "    - %s (%s)", q.Name, q.ID)
		if len(targets) > 0 {
			fmt.Fprintf(w, ": %s", strings.Join(targets, ", "))
		}
		fmt.Fprintln(w)
	}
}

// printTargets summarises the queues' own service-level targets per media
// type, which rules on `target` follow, and flags those still at the
// target Genesys gives every new queue where nobody is likely to have
// meant it.
func printTargets(w io.Writer, queues []app.QueueInfo) {
	if len(queues) == 0 {
		return
	}
	fmt.Fprintln(w, "    Targets in Genesys Cloud (rules on `target` follow them, e.g. /sla set default voice sl target min 20):")
	for _, l := range app.SummariseTargets(queues).Lines() {
		fmt.Fprintf(w, "    - %s\n", l)
	}
}

// percentScale reads a service-level percentage given as a fraction (0.8,
// as Genesys stores it) or as a percentage (80).
func percentScale(p float64) float64 {
	if p <= 1 {
		return 100
	}
	return 1
}

func printNextSteps(w io.Writer, publicURL string, socketMode bool) {
	if socketMode {
		fmt.Fprintf(w, `
Socket Mode is on (SLACK_APP_TOKEN): Slack needs no URL of slabot's. With Genesys polling
(GENESYS_CLIENT_ID/GENESYS_CLIENT_SECRET) nothing connects to slabot at all.

Slack app manifest for Socket Mode (api.slack.com/apps → Create New App → From a manifest):
-----8<-----
%s-----8<-----
`, slabot.SocketManifest())
		return
	}
	base := strings.TrimRight(publicURL, "/")
	if base == "" {
		base = slabot.PlaceholderHost
		fmt.Fprintln(w, "\n• PUBLIC_URL is not set: the manifest below keeps the placeholder host; set PUBLIC_URL=https://your-app.example.com to fill it in")
	}
	fmt.Fprintf(w, `
Point Genesys Cloud at the webhook, %[1]s/webhook/genesys, in one of two ways:
  A. Amazon EventBridge: add the Genesys Cloud EventBridge integration with the topic
     v2.analytics.queues.{id}.observations; in AWS create a Connection with API key auth
     (header X-Slabot-Token, value GENESYS_WEBHOOK_TOKEN), an API destination POSTing to the URL
     above, and a rule on the partner event bus that targets it.
  B. Process Automation: a workflow on a queue-observation trigger calls a Web Services Data Action
     that POSTs slabot's metric event to the URL above with header
     Authorization: Bearer <GENESYS_WEBHOOK_TOKEN>.

Slack app manifest (api.slack.com/apps → Create New App → From a manifest):
-----8<-----
%[2]s-----8<-----
`, base, slabot.Manifest(publicURL))
}
