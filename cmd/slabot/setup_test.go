package main

import (
	"context"
	"encoding/json"
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
