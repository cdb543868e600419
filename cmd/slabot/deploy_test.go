package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/goccy/go-yaml"
)

// manifest is the part of manifest.yaml slabot's routes depend on.
type manifest struct {
	Features struct {
		SlashCommands []struct {
			Command string `yaml:"command"`
			URL     string `yaml:"url"`
		} `yaml:"slash_commands"`
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
			RequestURL string `yaml:"request_url"`
		} `yaml:"interactivity"`
	} `yaml:"settings"`
}

// Every route the server registers is named in app.json, and every Slack
// route in manifest.yaml, so neither can drift from the code.
func TestDeployFilesNameEveryRoute(t *testing.T) {
	cfg, err := loadConfig(env(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := build(context.Background(), cfg, wiring{stdout: io.Discard, log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.store.Close()
	engine, ok := svc.handler.(*gin.Engine)
	if !ok {
		t.Fatalf("handler is %T, want *gin.Engine", svc.handler)
	}
	var paths []string
	for _, r := range engine.Routes() {
		if !slices.Contains(paths, r.Path) {
			paths = append(paths, r.Path)
		}
	}

	raw, err := os.ReadFile(filepath.Join("..", "..", "manifest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatalf("manifest.yaml does not parse: %v", err)
	}
	var slackPaths []string
	for _, u := range []string{m.Settings.Events.RequestURL, m.Settings.Interactivity.RequestURL} {
		slackPaths = append(slackPaths, pathOf(t, u))
	}
	for _, c := range m.Features.SlashCommands {
		if c.Command != "/sla" {
			t.Errorf("unexpected slash command %q", c.Command)
		}
		slackPaths = append(slackPaths, pathOf(t, c.URL))
	}
	for _, p := range paths {
		if strings.HasPrefix(p, "/slack/") && !slices.Contains(slackPaths, p) {
			t.Errorf("manifest.yaml does not name route %s", p)
		}
	}
	for _, p := range slackPaths {
		if !slices.Contains(paths, p) {
			t.Errorf("manifest.yaml names %s, which the server does not serve", p)
		}
	}
	for _, scope := range []string{"commands", "chat:write", "chat:write.public", "channels:history", "groups:history", "files:write"} {
		if !slices.Contains(m.OAuth.Scopes.Bot, scope) {
			t.Errorf("manifest lacks scope %s", scope)
		}
	}
	if !slices.Contains(m.Settings.Events.BotEvents, "app_home_opened") {
		t.Error("manifest does not subscribe to app_home_opened")
	}

	raw, err = os.ReadFile(filepath.Join("..", "..", "app.json"))
	if err != nil {
		t.Fatal(err)
	}
	var appJSON struct {
		Env map[string]struct {
			Description string `json:"description"`
			Required    bool   `json:"required"`
		} `json:"env"`
		Addons []struct {
			Plan string `json:"plan"`
		} `json:"addons"`
	}
	if err := json.Unmarshal(raw, &appJSON); err != nil {
		t.Fatalf("app.json does not parse: %v", err)
	}
	for _, p := range paths {
		if !strings.Contains(string(raw), p) {
			t.Errorf("app.json does not name route %s", p)
		}
	}
	for _, v := range []string{"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_CHANNEL_ID"} {
		if !appJSON.Env[v].Required {
			t.Errorf("app.json: %s must be required", v)
		}
	}
	// Every variable loadConfig reads is described.
	for _, v := range configVariables {
		if v == "PORT" || v == "REDIS_URL" { // set by the platform
			continue
		}
		if appJSON.Env[v].Description == "" {
			t.Errorf("app.json does not describe %s", v)
		}
	}
	if len(appJSON.Addons) == 0 || !strings.HasPrefix(appJSON.Addons[0].Plan, "heroku-redis") {
		t.Error("app.json does not provision Redis")
	}
}

func pathOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Path == "" {
		t.Fatalf("bad URL %q in manifest", raw)
	}
	return u.Path
}
