package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/slabot/slabot"
	"github.com/slabot/slabot/handlers/sockettest"
)

func TestSocketModeConfig(t *testing.T) {
	trial := map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1-A0-1-abc", "SLACK_CHANNEL_ID": "C123"}
	c, err := loadConfig(env(trial))
	if err != nil {
		t.Fatalf("bot token, app token and channel are a whole configuration: %v", err)
	}
	if !c.SocketMode() || c.Local() {
		t.Errorf("SocketMode %v, Local %v; want Socket Mode in production mode", c.SocketMode(), c.Local())
	}
	if s := fmt.Sprintf("%v %+v", c, c); strings.Contains(s, "xapp-1-A0-1-abc") {
		t.Error("the app token prints")
	}
	for name, vars := range map[string]map[string]string{
		"a bot token as app token": {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-1", "SLACK_CHANNEL_ID": "C123"},
		"app token alone":          {"SLACK_APP_TOKEN": "xapp-1-A0-1-abc"},
	} {
		if _, err := loadConfig(env(vars)); err == nil || !strings.Contains(err.Error(), "SLACK_APP_TOKEN") {
			t.Errorf("%s: error %v, want one naming SLACK_APP_TOKEN", name, err)
		}
	}
	if _, err := loadConfig(env(map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_CHANNEL_ID": "C123", "GENESYS_WEBHOOK_TOKEN": "t"})); err == nil ||
		!strings.Contains(err.Error(), "SLACK_SIGNING_SECRET") {
		t.Errorf("over HTTP the signing secret is still required: %v", err)
	}
}

// The README's trial: `slabot` with only SLACK_BOT_TOKEN, SLACK_APP_TOKEN
// and SLACK_CHANNEL_ID (here also SLACK_API_URL, the fake's, and PORT 0)
// serves /sla over Socket Mode on the embedded Redis, and says what it
// lacks.
func TestSocketModeTrialRuns(t *testing.T) {
	slack := newFakeSlack(t)
	sock := sockettest.New(t, "xapp-1-trial", http.HandlerFunc(slack.serve))
	vars := map[string]string{"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": "xapp-1-trial", "SLACK_CHANNEL_ID": "C0ALERTS",
		"SLACK_API_URL": sock.APIURL(), "PORT": "0"}
	out := &syncWriter{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, env(vars), out) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("run did not return after cancel")
		}
	}()
	conn := sock.WaitConns(t, 1, 1)[0]
	conn.Send(command("e1", "t1", "U0ANYONE", "set default wait 2m"))
	if got := answer(t, sock.WaitAck(t, "e1")); !strings.Contains(got, "Threshold set") {
		t.Errorf("/sla set answered %q", got)
	}
	for _, want := range []string{"EMBEDDED IN-MEMORY Redis", "no Genesys input is configured", "slack socket mode connected", `"socket_mode":true`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, out.String())
		}
	}
}

// manifest.socket.yaml is manifest.yaml with Socket Mode on and no
// request URLs: same command, scopes, events and interactivity.
func TestSocketManifest(t *testing.T) {
	type mf struct {
		Features struct {
			SlashCommands []map[string]any `yaml:"slash_commands"`
		} `yaml:"features"`
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
		Settings struct {
			Events struct {
				RequestURL string   `yaml:"request_url"`
				BotEvents  []string `yaml:"bot_events"`
			} `yaml:"event_subscriptions"`
			Interactivity struct {
				Enabled    bool   `yaml:"is_enabled"`
				RequestURL string `yaml:"request_url"`
			} `yaml:"interactivity"`
			SocketMode bool `yaml:"socket_mode_enabled"`
		} `yaml:"settings"`
	}
	read := func(name string) (mf, string) {
		raw, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			t.Fatal(err)
		}
		var m mf
		if err := yaml.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s does not parse: %v", name, err)
		}
		return m, string(raw)
	}
	httpM, _ := read("manifest.yaml")
	sockM, raw := read("manifest.socket.yaml")
	if raw != slabot.SocketManifest() {
		t.Error("slabot.SocketManifest() is not manifest.socket.yaml")
	}
	if !sockM.Settings.SocketMode || httpM.Settings.SocketMode {
		t.Errorf("socket_mode_enabled: socket manifest %v, HTTP manifest %v", sockM.Settings.SocketMode, httpM.Settings.SocketMode)
	}
	if strings.Contains(raw, "url:") || sockM.Settings.Events.RequestURL != "" || sockM.Settings.Interactivity.RequestURL != "" {
		t.Error("the Socket Mode manifest names a request URL")
	}
	if !sockM.Settings.Interactivity.Enabled {
		t.Error("interactivity is off in the Socket Mode manifest")
	}
	if !slices.Equal(sockM.OAuth.Scopes.Bot, httpM.OAuth.Scopes.Bot) || !slices.Equal(sockM.Settings.Events.BotEvents, httpM.Settings.Events.BotEvents) {
		t.Errorf("scopes %v / events %v differ from manifest.yaml's %v / %v", sockM.OAuth.Scopes.Bot, sockM.Settings.Events.BotEvents,
			httpM.OAuth.Scopes.Bot, httpM.Settings.Events.BotEvents)
	}
	if len(sockM.Features.SlashCommands) != 1 || len(httpM.Features.SlashCommands) != 1 {
		t.Fatal("want one slash command in each manifest")
	}
	want := httpM.Features.SlashCommands[0]
	delete(want, "url")
	if got := sockM.Features.SlashCommands[0]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("slash command %v, want manifest.yaml's %v without its url", got, want)
	}
}

// slabot setup with an app token checks it with apps.connections.open and
// prints the Socket Mode manifest; a refused token fails the check.
func TestSocketModeSetup(t *testing.T) {
	for _, tt := range []struct {
		token   string
		wantErr bool
		want    []string
	}{
		{"xapp-1-setup", false, []string{"✔ Slack app-level token (apps.connections.open)", "socket_mode_enabled: true", "no Genesys input"}},
		{"xapp-1-wrong", true, []string{"✘ Slack app-level token (apps.connections.open): invalid_auth", "connections:write"}},
	} {
		slack := newFakeSlack(t)
		sock := sockettest.New(t, "xapp-1-setup", http.HandlerFunc(slack.serve))
		var out strings.Builder
		err := run(context.Background(), []string{"setup"}, env(map[string]string{
			"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": tt.token, "SLACK_CHANNEL_ID": "C0ALERTS", "SLACK_API_URL": sock.APIURL(),
		}), &out)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, wantErr %v\n%s", tt.token, err, tt.wantErr, out.String())
		}
		for _, w := range tt.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: output lacks %q:\n%s", tt.token, w, out.String())
			}
		}
		if strings.Contains(out.String(), tt.token) || strings.Contains(out.String(), "request_url") {
			t.Errorf("%s: setup printed the token or a request URL:\n%s", tt.token, out.String())
		}
	}
}
