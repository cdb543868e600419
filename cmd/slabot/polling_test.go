package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// With only Genesys API credentials (no webhook at all) a queue whose
// oldest waiting conversation is older than the threshold reaches Slack
// within about one poll interval, named from the Genesys directory.
func TestEndToEndPollingOnly(t *testing.T) {
	page, err := os.ReadFile(filepath.Join("testdata", "routing-queues-page.json"))
	if err != nil {
		t.Fatal(err)
	}
	genesys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		now := time.Now().UTC().Truncate(time.Second) // the Date header has second precision
		w.Header().Set("Date", now.Format(http.TimeFormat))
		switch r.URL.Path {
		case "/oauth/token":
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "tok", "token_type": "bearer", "expires_in": 86399})
		case "/api/v2/routing/queues":
			_, _ = w.Write(page)
		case "/api/v2/analytics/queues/observations/query":
			// Support has one caller waiting for 7 minutes.
			_ = json.NewEncoder(w).Encode(map[string]any{"results": []any{
				map[string]any{"group": map[string]any{"queueId": "2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10", "mediaType": "voice"},
					"data": []any{map[string]any{"metric": "oWaiting", "stats": map[string]any{"count": 1},
						"observations": []any{map[string]any{"observationDate": now.Add(-7 * time.Minute).Format(time.RFC3339Nano),
							"conversationId": "c1"}}}}},
			}})
		case "/api/v2/analytics/conversations/aggregates/query":
			_, _ = w.Write([]byte(`{"results":[]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer genesys.Close()

	e := newE2E(t, map[string]string{
		"GENESYS_WEBHOOK_TOKEN": "", "GENESYS_CLIENT_ID": "id", "GENESYS_CLIENT_SECRET": "secret",
		"GENESYS_REGION": genesys.URL, "GENESYS_POLL_INTERVAL": "2s",
	}, true)
	calls := e.slack.waitCalls(t, "the polled alert", func(c []slackCall) bool { return count(c, "chat.postMessage") >= 1 })
	if !strings.Contains(calls[0].Text, "Support") || !strings.Contains(calls[0].Text, "Longest wait 7m") {
		t.Errorf("alert %q: want Support's longest wait of 7m", calls[0].Text)
	}
	// The webhook is closed in a polling-only deployment and says how to open it.
	resp, err := http.Post(e.web.URL+"/webhook/genesys", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("webhook answered %d in a polling-only deployment, want 401", resp.StatusCode)
	}
}
