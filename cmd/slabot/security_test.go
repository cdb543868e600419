package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"log/slog"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// Local mode (no SLACK_BOT_TOKEN: unsigned requests, console output) on a
// REDIS_URL production may share refuses to start unless SLABOT_LOCAL=1
// says it is meant; the security settings are read and checked (issue 14,
// findings 1, 2 and 7).
func TestSecurityConfig(t *testing.T) {
	prod := map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_CHANNEL_ID": "C123", "GENESYS_WEBHOOK_TOKEN": "t"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		vars    map[string]string
		wantErr []string
		check   func(t *testing.T, c Config)
	}{
		{"local mode on REDIS_URL refused", map[string]string{"REDIS_URL": "redis://prod.example:6379"},
			[]string{"SLACK_BOT_TOKEN", "REDIS_URL", "SLABOT_LOCAL=1"}, nil},
		{"local mode on REDIS_URL opted in", map[string]string{"REDIS_URL": "redis://localhost:6379", "SLABOT_LOCAL": "1"}, nil,
			func(t *testing.T, c Config) {
				if !c.Local() || !c.LocalOptIn {
					t.Errorf("Local %v, LocalOptIn %v", c.Local(), c.LocalOptIn)
				}
			}},
		{"local mode on the embedded Redis needs no opt-in", map[string]string{}, nil, nil},
		{"SLABOT_LOCAL with a bot token", with(prod, "SLABOT_LOCAL", "1"), []string{"SLABOT_LOCAL"}, nil},
		{"SLABOT_LOCAL not a boolean", map[string]string{"SLABOT_LOCAL": "yes please"}, []string{"SLABOT_LOCAL"}, nil},
		{"production on REDIS_URL", with(prod, "REDIS_URL", "rediss://prod.example:6380"), nil, func(t *testing.T, c Config) {
			if c.MaxQueues != 20_000 || c.RequireWebhookTimestamp {
				t.Errorf("defaults: MaxQueues %d, RequireWebhookTimestamp %v", c.MaxQueues, c.RequireWebhookTimestamp)
			}
		}},
		{"queue cap set", with(prod, "SLABOT_MAX_QUEUES", "500"), nil, func(t *testing.T, c Config) {
			if c.MaxQueues != 500 {
				t.Errorf("MaxQueues %d", c.MaxQueues)
			}
		}},
		{"queue cap off", with(prod, "SLABOT_MAX_QUEUES", "off"), nil, func(t *testing.T, c Config) {
			if c.MaxQueues != 0 {
				t.Errorf("MaxQueues %d", c.MaxQueues)
			}
		}},
		{"queue cap invalid", with(prod, "SLABOT_MAX_QUEUES", "-1"), []string{"SLABOT_MAX_QUEUES"}, nil},
		{"timestamp required with a secret", with(prod, "GENESYS_WEBHOOK_SECRET", "x", "GENESYS_WEBHOOK_REQUIRE_TIMESTAMP", "true"), nil,
			func(t *testing.T, c Config) {
				if !c.RequireWebhookTimestamp {
					t.Error("RequireWebhookTimestamp off")
				}
			}},
		{"timestamp required without a secret", with(prod, "GENESYS_WEBHOOK_REQUIRE_TIMESTAMP", "1"), []string{"GENESYS_WEBHOOK_REQUIRE_TIMESTAMP"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(env(tt.vars))
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if tt.check != nil {
					tt.check(t, c)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %s:\n%v", want, err)
				}
			}
		})
	}
	t.Run("serve refuses to start", func(t *testing.T) {
		err := run(context.Background(), []string{"serve"}, env(map[string]string{"REDIS_URL": "redis://127.0.0.1:1"}), &syncWriter{})
		if err == nil || !strings.Contains(err.Error(), "SLABOT_LOCAL=1") {
			t.Errorf("run = %v; want a refusal naming SLABOT_LOCAL=1", err)
		}
	})
}

// Local mode listens on the loopback interface only; production on every
// interface. PORT applies to both (issue 14, finding 1).
func TestLocalModeListensOnLoopback(t *testing.T) {
	if got := listenAddr(Config{Port: 4000, SlackBotToken: "xoxb-1"}); got != ":4000" {
		t.Errorf("production listens on %q; want :4000", got)
	}
	port := freePort(t)
	cfg, err := loadConfig(env(map[string]string{"PORT": fmt.Sprint(port), "LOG_LEVEL": "info"}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncWriter{}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, out) }()
	defer func() { cancel(); <-done }()
	var addr string
	for deadline := time.Now().Add(20 * time.Second); addr == "" && time.Now().Before(deadline); {
		for _, line := range strings.Split(out.String(), "\n") {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "slabot listening" {
				addr = rec.Addr
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if want := fmt.Sprintf("127.0.0.1:%d", port); addr != want {
		t.Fatalf("local mode listens on %q; want %q\n%s", addr, want, out.String())
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// A local-mode slabot started with SLABOT_LOCAL=1 on production's Redis
// works under keys of its own: its unsigned /sla set changes no production
// rule, and it never takes a production notification off the outbox,
// though it delivers its own (issue 14, finding 1).
func TestLocalModeOnSharedRedisLeavesProductionAlone(t *testing.T) {
	ctx := context.Background()
	rs := redistest.Start(t)
	prod, err := store.New(ctx, rs.URL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if err := prod.SetThreshold(ctx, app.Threshold{QueueID: app.DefaultQueue, Metric: app.Waiting, Value: 50}); err != nil {
		t.Fatal(err)
	}

	cfg, err := loadConfig(env(map[string]string{"REDIS_URL": rs.URL, "SLABOT_LOCAL": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	lctx, cancel := context.WithCancel(ctx)
	out := &syncWriter{}
	svc, err := build(lctx, cfg, wiring{stdout: out, log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.store.Close()
	wait := svc.start(lctx)
	defer func() { cancel(); wait() }()
	web := httptest.NewServer(svc.handler)
	defer web.Close()

	// Production posts a notification while the local instance runs.
	if err := prod.Enqueue(ctx, app.Notification{Kind: app.KindAnnounce, Channel: "C0PROD", Text: "PRODUCTION-ONLY", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"command": {"/sla"}, "text": {"set default waiting 1"}, "user_id": {"U0MALLORY"}, "team_id": {"T0OTHER"}}
	resp, err := http.PostForm(web.URL+"/slack/commands", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Post(web.URL+"/webhook/genesys", "application/json", strings.NewReader(
		`{"id":"l1","event_type":"com.genesiscloud.queue.metric","data":{"queue_id":"lq1","queue_name":"LocalQueue","metric":"wait","value":912}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "LocalQueue"); {
		if time.Now().After(deadline) {
			t.Fatalf("the local instance printed no alert of its own:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // its dispatcher has had turns to take more
	if strings.Contains(out.String(), "PRODUCTION-ONLY") {
		t.Errorf("the local instance took a production notification off the outbox:\n%s", out.String())
	}
	if n, _, err := prod.OutboxDepth(ctx); err != nil || n != 1 {
		t.Errorf("production outbox depth %d (%v); want its 1 notification still there", n, err)
	}
	rules, err := prod.Thresholds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 || rules[0].Value != 50 {
		t.Errorf("production rules %+v; want only default waiting 50", rules)
	}
}
