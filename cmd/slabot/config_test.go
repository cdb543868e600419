package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	prod := map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_CHANNEL_ID": "C123", "GENESYS_WEBHOOK_TOKEN": "t"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := make(map[string]string)
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
		wantErr []string // every variable the error must name
		check   func(t *testing.T, c Config)
	}{
		{"zero config is local mode", map[string]string{}, nil, func(t *testing.T, c Config) {
			if !c.Local() || c.Port != 3000 || c.DefaultLongestWait != 300*time.Second || c.RemindAfter != 15*time.Minute {
				t.Errorf("defaults wrong: %+v", c)
			}
		}},
		{"production complete", prod, nil, func(t *testing.T, c Config) {
			if c.Local() {
				t.Error("token set but local")
			}
		}},
		{"production names every missing variable", map[string]string{"SLACK_BOT_TOKEN": "xoxb-1"},
			[]string{"SLACK_SIGNING_SECRET", "SLACK_CHANNEL_ID", "GENESYS_WEBHOOK_TOKEN"}, nil},
		{"polling only needs no webhook auth", with(prod, "GENESYS_WEBHOOK_TOKEN", "", "GENESYS_CLIENT_ID", "id", "GENESYS_CLIENT_SECRET", "sec"), nil, nil},
		{"half the client credentials", map[string]string{"GENESYS_CLIENT_ID": "id"}, []string{"GENESYS_CLIENT_ID/GENESYS_CLIENT_SECRET"}, nil},
		{"bad values all named", map[string]string{"PORT": "http", "REDIS_URL": "mysql://x", "LOG_LEVEL": "loud",
			"REMIND_AFTER": "soon", "GENESYS_POLL_INTERVAL": "1s", "SLA_ADMINS": "steve", "SLACK_CHANNEL_ID": "#alerts",
			"REDIS_TLS_INSECURE": "maybe", "SLA_DEFAULT_LONGEST_WAIT": "-5"},
			[]string{"PORT", "REDIS_URL", "LOG_LEVEL", "REMIND_AFTER", "GENESYS_POLL_INTERVAL", "SLA_ADMINS", "SLACK_CHANNEL_ID", "REDIS_TLS_INSECURE", "SLA_DEFAULT_LONGEST_WAIT"}, nil},
		{"redis plan limits", map[string]string{"REDIS_POOL_SIZE": "4", "REDIS_MAXMEMORY": "25mb"}, nil, func(t *testing.T, c Config) {
			if c.RedisPoolSize != 4 || c.RedisMaxMemory != 25<<20 {
				t.Errorf("RedisPoolSize %d, RedisMaxMemory %d; want 4 and 25 MiB", c.RedisPoolSize, c.RedisMaxMemory)
			}
		}},
		{"redis plan defaults", map[string]string{}, nil, func(t *testing.T, c Config) {
			if c.RedisPoolSize != 10 || c.RedisMaxMemory != 0 {
				t.Errorf("RedisPoolSize %d, RedisMaxMemory %d; want 10 and unknown", c.RedisPoolSize, c.RedisMaxMemory)
			}
		}},
		{"redis maxmemory in bytes", map[string]string{"REDIS_MAXMEMORY": "26214400"}, nil, func(t *testing.T, c Config) {
			if c.RedisMaxMemory != 26214400 {
				t.Errorf("RedisMaxMemory %d", c.RedisMaxMemory)
			}
		}},
		{"bad redis plan limits", map[string]string{"REDIS_POOL_SIZE": "2", "REDIS_MAXMEMORY": "lots"},
			[]string{"REDIS_POOL_SIZE", "REDIS_MAXMEMORY"}, nil},
		{"dedup window default", map[string]string{}, nil, func(t *testing.T, c Config) {
			if c.DedupWindow != time.Hour {
				t.Errorf("DedupWindow = %v, want 1h", c.DedupWindow)
			}
		}},
		{"dedup window set", map[string]string{"SLABOT_DEDUP_WINDOW": "6h"}, nil, func(t *testing.T, c Config) {
			if c.DedupWindow != 6*time.Hour {
				t.Errorf("DedupWindow = %v, want 6h", c.DedupWindow)
			}
		}},
		{"dedup window bounds", map[string]string{"SLABOT_DEDUP_WINDOW": "15m"}, nil, func(t *testing.T, c Config) {
			if c.DedupWindow != 15*time.Minute {
				t.Errorf("DedupWindow = %v, want 15m", c.DedupWindow)
			}
		}},
		{"dedup window in days", map[string]string{"SLABOT_DEDUP_WINDOW": "7d"}, nil, func(t *testing.T, c Config) {
			if c.DedupWindow != 7*24*time.Hour {
				t.Errorf("DedupWindow = %v, want 7 days", c.DedupWindow)
			}
		}},
		{"dedup window too short", map[string]string{"SLABOT_DEDUP_WINDOW": "14m"}, []string{"SLABOT_DEDUP_WINDOW: a duration from 15m to 7d"}, nil},
		{"dedup window too long", map[string]string{"SLABOT_DEDUP_WINDOW": "169h"}, []string{"SLABOT_DEDUP_WINDOW"}, nil},
		{"dedup window too many days", map[string]string{"SLABOT_DEDUP_WINDOW": "8d"}, []string{"SLABOT_DEDUP_WINDOW"}, nil},
		{"dedup window not a duration", map[string]string{"SLABOT_DEDUP_WINDOW": "a day"}, []string{"SLABOT_DEDUP_WINDOW"}, nil},
		{"default threshold off", map[string]string{"SLA_DEFAULT_LONGEST_WAIT": "off"}, nil, func(t *testing.T, c Config) {
			if c.DefaultLongestWait != 0 {
				t.Errorf("DefaultLongestWait = %v", c.DefaultLongestWait)
			}
		}},
		{"default threshold changed", map[string]string{"SLA_DEFAULT_LONGEST_WAIT": "10m"}, nil, func(t *testing.T, c Config) {
			if c.DefaultLongestWait != 10*time.Minute {
				t.Errorf("DefaultLongestWait = %v", c.DefaultLongestWait)
			}
		}},
		{"weekly report", map[string]string{"SLA_REPORT": " Mon 09:00 Europe/London "}, nil, func(t *testing.T, c Config) {
			if c.Report == nil || c.Report.String() != "Mon 09:00 Europe/London" {
				t.Errorf("Report = %v, want Mon 09:00 Europe/London", c.Report)
			}
		}},
		{"no weekly report", map[string]string{}, nil, func(t *testing.T, c Config) {
			if c.Report != nil {
				t.Errorf("Report = %v, want none", c.Report)
			}
		}},
		{"weekly report on a bad day", map[string]string{"SLA_REPORT": "Mun 09:00 Europe/London"}, []string{"SLA_REPORT: 'Mun' is not a weekday"}, nil},
		{"weekly report at a bad time", map[string]string{"SLA_REPORT": "Mon 9am Europe/London"}, []string{"SLA_REPORT: '9am' is not a time of day"}, nil},
		{"weekly report in a bad zone", map[string]string{"SLA_REPORT": "Mon 09:00 London"}, []string{"SLA_REPORT: 'London' is not a time zone"}, nil},
		{"weekly report without a time", map[string]string{"SLA_REPORT": "Monday"}, []string{"SLA_REPORT: give a weekday, a time and a time zone"}, nil},
		{"lists", map[string]string{"SLA_ADMINS": "U1, W2", "GENESYS_QUEUES": "Support, Billing EU"}, nil, func(t *testing.T, c Config) {
			if fmt.Sprint(c.SLAAdmins) != "[U1 W2]" || fmt.Sprint(c.GenesysQueues) != "[Support Billing EU]" {
				t.Errorf("lists = %v %v", c.SLAAdmins, c.GenesysQueues)
			}
		}},
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
			for _, name := range tt.wantErr {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error does not name %s:\n%v", name, err)
				}
			}
		})
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	c, err := loadConfig(env(map[string]string{"SLACK_BOT_TOKEN": "xoxb-SECRET1", "SLACK_SIGNING_SECRET": "SECRET2",
		"SLACK_CHANNEL_ID": "C1", "GENESYS_WEBHOOK_TOKEN": "SECRET3", "GENESYS_WEBHOOK_SECRET": "SECRET4",
		"REDIS_URL": "redis://:SECRET5@localhost:6379"}))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "cfg", c, "token", c.SlackBotToken)
	fmt.Fprintf(&buf, "%v %+v %s", c, c, c.WebhookSecret)
	if strings.Contains(buf.String(), "SECRET") {
		t.Errorf("a secret was printed: %s", buf.String())
	}
}

// configVariables must list every variable loadConfig reads, since deploy
// files are checked against it.
func TestConfigVariablesComplete(t *testing.T) {
	var read []string
	_, err := loadConfig(func(k string) string {
		read = append(read, k)
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range read {
		if !slices.Contains(configVariables, v) {
			t.Errorf("loadConfig reads %s, which configVariables does not list", v)
		}
	}
	for _, v := range configVariables {
		if !slices.Contains(read, v) {
			t.Errorf("configVariables lists %s, which loadConfig never reads", v)
		}
	}
}
