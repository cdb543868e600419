package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/store/redistest"
)

// When the Redis plan is full (maxmemory with noeviction, the managed
// plans' default) a webhook that cannot be committed answers 503, so
// Genesys sends it again, and nothing of it is written; once memory is
// freed the same delivery is processed, not taken for a duplicate. This
// is the store's memory-guard test seen from the outside: the real
// binary, a real redis-server, HTTP status codes.
func TestWebhookAnswers503WhenRedisFull(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	slack := newFakeSlack(t)
	rs := redistest.StartWith(t, "--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
	p := startSlabot(t, map[string]string{
		"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s", "SLACK_CHANNEL_ID": "C0ALERTS",
		"SLACK_API_URL": slack.URL + "/", "REDIS_URL": rs.URL, "GENESYS_WEBHOOK_TOKEN": "hook", "LOG_LEVEL": "warn",
	})
	opt, err := redis.ParseURL(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()

	post := func(id string) (int, string) {
		t.Helper()
		body := fmt.Sprintf(`{"id":%q,"event_type":"com.genesiscloud.queue.metric","data":{"queue_id":"q-full","metric":"waiting","value":7}}`, id)
		req, _ := http.NewRequest(http.MethodPost, p.url+"/webhook/genesys", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer hook")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("ev-before"); code != http.StatusOK {
		t.Fatalf("with room, a webhook answered %d %s\n%s", code, body, p.out.String())
	}

	// Fill Redis beyond its limit with something that is not slabot's:
	// ballast, then a maxmemory below what is used (filling up to an OOM
	// alone leaves Redis a few bytes under the limit once the filler's
	// query buffer is freed, and small writes would still pass).
	chunk := strings.Repeat("x", 64<<10)
	for i := range 16 {
		if err := rdb.Set(ctx, fmt.Sprintf("ballast:%d", i), chunk, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "1mb").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "probe", "x", 0).Err(); err == nil || !strings.Contains(err.Error(), "OOM") {
		t.Fatalf("Redis still takes writes (%v): the test cannot fill it", err)
	}
	keysBefore, err := rdb.Keys(ctx, "*q-full*").Result()
	if err != nil {
		t.Fatal(err)
	}

	code, body := post("ev-full")
	if code != http.StatusServiceUnavailable {
		t.Fatalf("Redis full: the webhook answered %d %s, want 503 so Genesys retries\n%s", code, body, p.out.String())
	}
	keysAfter, err := rdb.Keys(ctx, "*q-full*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keysAfter) != len(keysBefore) {
		t.Errorf("a refused webhook wrote keys: %d before, %d after (%v)", len(keysBefore), len(keysAfter), keysAfter)
	}

	// Free the ballast (only it): Genesys's retry of the same delivery now
	// goes through, so the refused attempt left no idempotency mark.
	ballast, err := rdb.Keys(ctx, "ballast:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.Del(ctx, ballast...).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "4mb").Err(); err != nil {
		t.Fatal(err)
	}
	if code, body := post("ev-full"); code != http.StatusOK || !strings.Contains(body, "processed") {
		t.Fatalf("after memory was freed the retried webhook answered %d %s, want 200 processed", code, body)
	}
}
