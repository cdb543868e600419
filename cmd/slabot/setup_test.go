package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeGenesys answers the four Genesys Cloud endpoints setup touches, in
// their real shapes (the routing page is the shared sample's).
func fakeGenesys(t *testing.T, secret string) *httptest.Server {
	t.Helper()
	page, err := os.ReadFile(filepath.Join("testdata", "routing-queues-page.json"))
	if err != nil {
		t.Fatal(err)
	}
	return fakeGenesysPage(t, secret, page)
}

// fakeGenesysPage is fakeGenesys listing page as the queue directory.
func fakeGenesysPage(t *testing.T, secret string, page []byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/oauth/token":
			if _, pass, _ := r.BasicAuth(); pass != secret {
				w.WriteHeader(http.StatusBadRequest)
				_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "description": "client not found"})
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "tok", "token_type": "bearer", "expires_in": 86399})
		case "/api/v2/routing/queues":
			_, _ = w.Write(page)
		case "/api/v2/analytics/queues/observations/query", "/api/v2/analytics/conversations/aggregates/query":
			_, _ = w.Write([]byte(`{"results":[]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSetup(t *testing.T) {
	tests := []struct {
		name      string
		secret    string // what slabot is given; the fake accepts "right"
		notMember bool
		wantErr   bool
		want      []string
	}{
		{"all good", "right", false, false, []string{"✔ Slack token", "Support (2f6f2d4e", "call 80% in 20s", "Billing EU",
			"https://slabot.test/slack/commands", "All checks passed"}},
		{"bad client secret", "wrong", false, true, []string{"✘ Genesys Cloud API", "GENESYS_CLIENT_SECRET"}},
		{"bot not in channel", "right", true, true, []string{"✘ SLACK_CHANNEL_ID C0ALERTS", "not a member", "type /invite @slabot"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			slack := newFakeSlack(t)
			if tt.notMember {
				slack.setHook(func(w http.ResponseWriter, r *http.Request, method string, n int) bool {
					if method != "conversations.history" {
						return false
					}
					_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "not_in_channel"})
					return true
				})
			}
			g := fakeGenesys(t, "right")
			var out strings.Builder
			err := run(context.Background(), []string{"setup"}, env(map[string]string{
				"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s", "SLACK_CHANNEL_ID": "C0ALERTS",
				"SLACK_API_URL": slack.URL + "/", "GENESYS_CLIENT_ID": "id", "GENESYS_CLIENT_SECRET": tt.secret,
				"GENESYS_REGION": g.URL, "PUBLIC_URL": "https://slabot.test",
			}), &out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v\n%s", err, tt.wantErr, out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if strings.Contains(out.String(), tt.secret+"\n") || strings.Contains(out.String(), "xoxb-test") {
				t.Errorf("setup printed a secret:\n%s", out.String())
			}
			// The channel is checked with a scope the manifest has
			// (channels:history), never with conversations.info, whose
			// channels:read it lacks.
			slack.mu.Lock()
			info, history := slack.count["conversations.info"], slack.count["conversations.history"]
			slack.mu.Unlock()
			if info != 0 || history != 1 {
				t.Errorf("setup called conversations.info %d and conversations.history %d times, want 0 and 1", info, history)
			}
			if !tt.notMember && !strings.Contains(out.String(), "✔ SLACK_CHANNEL_ID C0ALERTS\n    the bot is in the channel") {
				t.Errorf("output does not say the channel is fine:\n%s", out.String())
			}
		})
	}
}

// TestSetupSummarisesTargets: setup prints what the directory holds of the
// queues' own targets per media type, and flags email targets left at the
// creation default (80 % in 20 s), which a rule on target would page on.
func TestSetupSummarisesTargets(t *testing.T) {
	sl := func(pct float64, ms int) map[string]any {
		return map[string]any{"serviceLevel": map[string]any{"percentage": pct, "durationMs": ms}}
	}
	var entities []map[string]any
	for i := range 5 {
		media := map[string]any{"call": sl(0.8, 20000), "email": sl(0.8, 20000)}
		if i == 4 {
			media["call"] = sl(0.9, 15000)
		}
		if i >= 2 {
			media["email"] = sl(0.9, 86400000)
		}
		entities = append(entities, map[string]any{"id": fmt.Sprintf("00000000-0000-4000-8000-00000000000%d", i+1),
			"name": fmt.Sprintf("Queue %d", i+1), "mediaSettings": media})
	}
	entities = append(entities, map[string]any{"id": "00000000-0000-4000-8000-000000000009", "name": "Bare", "mediaSettings": map[string]any{}})
	page, err := json.Marshal(map[string]any{"entities": entities, "pageNumber": 1, "pageCount": 1, "pageSize": 100, "total": len(entities)})
	if err != nil {
		t.Fatal(err)
	}
	g := fakeGenesysPage(t, "right", page)
	var out strings.Builder
	err = run(context.Background(), []string{"setup"}, env(map[string]string{
		"GENESYS_CLIENT_ID": "id", "GENESYS_CLIENT_SECRET": "right", "GENESYS_REGION": g.URL, "GENESYS_WEBHOOK_TOKEN": strings.Repeat("t", 32),
	}), &out)
	if err == nil {
		t.Fatalf("setup without Slack passed:\n%s", out.String())
	}
	want := "    Targets in Genesys Cloud (rules on `target` follow them, e.g. /sla set default voice sl target min 20):\n" +
		"    - voice: 5 queues, 80 % in 20s on 4 of them\n" +
		"    - email: 5 queues, 90 % in 24h on 3 of them\n" +
		"    - email: 2 queues still at the creation default 80 % in 20s: set their real target in Genesys Cloud, or rules on `target` will page on them.\n" +
		"    - 1 queue has no target on any media type: rules on `target` never alert on it.\n"
	if !strings.Contains(out.String(), want) {
		t.Errorf("setup's output lacks\n%s\nin\n%s", want, out.String())
	}
}
