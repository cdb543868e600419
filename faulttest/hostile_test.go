package faulttest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/bench/rig"
)

// slowWrite sends msg one byte every pause until the server closes the
// connection; it returns how many bytes went out before the close was
// seen, and whether the server answered anything (a 408, say).
func slowWrite(t *testing.T, addr string, msg []byte, pause time.Duration) (sent int, answer string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	closed := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(conn) // returns when the server closes
		closed <- string(b)
	}()
	for sent = 0; sent < len(msg); sent++ {
		select {
		case answer = <-closed:
			return sent, answer
		case <-time.After(pause):
		}
		if _, err := conn.Write(msg[sent : sent+1]); err != nil {
			return sent, <-closed
		}
	}
	select {
	case answer = <-closed:
	case <-time.After(5 * time.Second):
		t.Errorf("the server kept a connection that sent its whole request slowly")
	}
	return sent, answer
}

// Slow clients are cut off by the real server's timeouts: one sending
// its headers a byte at a time (ReadHeaderTimeout), one sending its body
// a byte at a time (ReadTimeout). Meanwhile many such connections do not
// keep a well-behaved webhook from being answered.
func TestSlowClientsAreCutOff(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOptions{})
	addr := strings.TrimPrefix(c.bots[0].URL, "http://")
	body := rig.MetricEvent(nil, "slow-1", "slow-q", "Slow", 10)
	headers := fmt.Sprintf("POST /webhook/genesys HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\nX-Padding: %s\r\n\r\n",
		addr, rig.WebhookToken, len(body), strings.Repeat("p", 300))

	// Twenty slowloris connections hold their sockets open meanwhile.
	for range 20 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		go func() {
			for i := range 60 {
				if _, err := conn.Write([]byte(headers[i : i+1])); err != nil {
					return
				}
				time.Sleep(500 * time.Millisecond)
			}
		}()
	}

	t.Run("headers byte by byte", func(t *testing.T) {
		t.Parallel()
		// 400 header bytes at 100 ms each would take 40 s.
		sent, _ := slowWrite(t, addr, []byte(headers), 100*time.Millisecond)
		if sent >= len(headers) {
			t.Errorf("all %d header bytes were accepted; want the connection cut off first", len(headers))
		}
		t.Logf("cut off after %d of %d header bytes", sent, len(headers))
	})
	t.Run("body byte by byte", func(t *testing.T) {
		t.Parallel()
		padded := append(bytes.Clone(body), bytes.Repeat([]byte(" "), 400)...)
		msg := []byte(strings.Replace(headers, fmt.Sprintf("Content-Length: %d", len(body)),
			fmt.Sprintf("Content-Length: %d", len(padded)), 1))
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
		// The rest of the request, a byte every 100 ms, would take 70 s.
		done := make(chan string, 1)
		go func() {
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				done <- "closed: " + err.Error()
				return
			}
			resp.Body.Close()
			done <- resp.Status
		}()
		for i := 0; i < len(padded); i++ {
			select {
			case got := <-done:
				if strings.HasPrefix(got, "200") {
					t.Errorf("a body sent byte by byte was accepted: %s", got)
				}
				t.Logf("cut off after %d of %d body bytes: %s", i, len(padded), got)
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := conn.Write(padded[i : i+1]); err != nil {
				t.Logf("cut off after %d of %d body bytes: %v", i, len(padded), err)
				return
			}
		}
		t.Errorf("all %d body bytes were accepted slowly; want the connection cut off first", len(padded))
	})
	t.Run("others are still served", func(t *testing.T) {
		t.Parallel()
		time.Sleep(time.Second)
		code, answer, err := c.sender.Post(context.Background(), c.bots[0].URL, rig.MetricEvent(nil, "fast-1", "fast-q", "Fast", 10))
		if err != nil || code != http.StatusOK {
			t.Errorf("webhook beside slow clients: %d %s %v", code, answer, err)
		}
	})
}

// Through the real binary: a body over 1 MiB answers 413; a queue named
// with Slack markup and Unicode reaches Slack escaped and intact.
func TestHostileWebhooksEndToEnd(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOptions{})
	ctx := context.Background()

	big := append(rig.MetricEvent(nil, "big-1", "big-q", "Big", 400), bytes.Repeat([]byte(" "), 1<<20)...)
	code, answer, err := c.sender.Post(ctx, c.bots[0].URL, big)
	if err != nil && !errors.Is(err, io.EOF) || err == nil && code != http.StatusRequestEntityTooLarge {
		t.Errorf("body over 1 MiB: %d %s %v; want 413", code, answer, err)
	}

	const name = "<!channel> & <@U0123ABCD> <https://evil.example|x> > サポート 🚨"
	body := rig.MetricEvent(nil, "hostile-1", "hostile-q", name, 400)
	if d, err := c.sender.Deliver(ctx, c.urls(), 0, body); err != nil || d.Status != "processed" {
		t.Fatalf("hostile name: %+v %v", d, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	var post *rig.Call
	for post == nil && time.Now().Before(deadline) {
		for _, call := range c.slack.Calls() {
			if call.Method == "chat.postMessage" {
				post = &call
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if post == nil {
		t.Fatal("no alert reached Slack")
	}
	const escaped = "&lt;!channel&gt; &amp; &lt;@U0123ABCD&gt; &lt;https://evil.example|x&gt; &gt; サポート 🚨"
	for _, s := range []string{post.Text, post.Blocks} {
		if strings.Contains(s, "<!channel>") || strings.Contains(s, "<@U0123ABCD>") || strings.Contains(s, "<https://evil") {
			t.Errorf("markup reached Slack unescaped: %.300q", s)
		}
	}
	if !strings.Contains(post.Text, escaped) {
		t.Errorf("text %q; want the name escaped as %q", post.Text, escaped)
	}
}

// Issue 14 through the real binary in production mode: the webhook's
// auth schemes, signed timestamps, future stamps, reserved queue IDs,
// long ids and the cap on known queues; /sla keeps mentions from queue
// names inert and snooze all to admins.
func TestSecurityEndToEnd(t *testing.T) {
	t.Parallel()
	const secret, admin = "e2e-hook-secret", "U0ADMIN01"
	c := newCluster(t, clusterOptions{env: []string{"GENESYS_WEBHOOK_SECRET=" + secret, "SLABOT_MAX_QUEUES=20", "SLA_ADMINS=" + admin}})
	base := c.bots[0].URL
	post := func(path string, body []byte, header map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	hmacHex := func(key string, parts ...string) string {
		m := hmac.New(sha256.New, []byte(key))
		for _, p := range parts {
			m.Write([]byte(p))
		}
		return hex.EncodeToString(m.Sum(nil))
	}
	token := map[string]string{"Authorization": "bearer " + rig.WebhookToken}
	now := time.Now()
	event := func(id, queue, name, stamp string) []byte {
		b, _ := json.Marshal(map[string]any{"id": id, "event_type": "com.genesiscloud.queue.metric", "timestamp": stamp,
			"data": map[string]any{"queue_id": queue, "queue_name": name, "metric": "longest_wait", "value": 400, "unit": "seconds"}})
		return b
	}
	stamp := now.UTC().Format(time.RFC3339)

	t.Run("webhook", func(t *testing.T) {
		ts := strconv.FormatInt(now.Unix(), 10)
		old := strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10)
		signed := event("sec-signed", "sec-q-signed", "Signed", stamp)
		batch := make([]string, 25)
		for i := range batch {
			batch[i] = string(event(fmt.Sprintf("sec-cap-%d", i), fmt.Sprintf("sec-cap-q%d", i), "Cap", stamp))
		}
		for _, tt := range []struct {
			name   string
			body   []byte
			header map[string]string
			want   int
		}{
			{"lower-case bearer", event("sec-1", "sec-q1", "One", stamp), token, http.StatusOK},
			{"signed timestamp", signed, map[string]string{"X-Slabot-Timestamp": ts, "X-Genesys-Cloud-Signature": "sha256=" + hmacHex(secret, ts, ".", string(signed))}, http.StatusOK},
			{"signed timestamp 10 minutes old", signed, map[string]string{"X-Slabot-Timestamp": old, "X-Genesys-Cloud-Signature": "sha256=" + hmacHex(secret, old, ".", string(signed))}, http.StatusUnauthorized},
			{"queue all", event("sec-2", "all", "All", stamp), token, http.StatusBadRequest},
			{"id of 300 bytes", event(strings.Repeat("x", 300), "sec-q3", "Three", stamp), token, http.StatusBadRequest},
			{"an hour ahead", event("sec-4", "sec-q4", "Four", now.Add(time.Hour).UTC().Format(time.RFC3339)), token, http.StatusBadRequest},
			{"25 new queues past a cap of 20", []byte("[" + strings.Join(batch, ",") + "]"), token, http.StatusBadRequest},
		} {
			if got, answer := post("/webhook/genesys", tt.body, tt.header); got != tt.want {
				t.Errorf("%s: %d %s; want %d", tt.name, got, answer, tt.want)
			}
		}
	})

	t.Run("slack", func(t *testing.T) {
		if got, answer := post("/webhook/genesys", event("sec-boss", "sec-q-boss", "<@U0BOSS>", stamp), token); got != http.StatusOK {
			t.Fatalf("queue named <@U0BOSS>: %d %s", got, answer)
		}
		command := func(user, text string) string {
			t.Helper()
			body := url.Values{"command": {"/sla"}, "text": {text}, "user_id": {user}, "team_id": {"T0RIG"}}.Encode()
			ts := strconv.FormatInt(time.Now().Unix(), 10)
			code, answer := post("/slack/commands", []byte(body), map[string]string{"Content-Type": "application/x-www-form-urlencoded",
				"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + hmacHex(rig.SigningSecret, "v0:", ts, ":", body)})
			var r struct{ Text string }
			if code != http.StatusOK || json.Unmarshal([]byte(answer), &r) != nil {
				t.Fatalf("/sla %s: %d %s", text, code, answer)
			}
			return r.Text
		}
		got := command("U0LEAD001", "snooze &lt;@U0BOS&gt; 1h")
		if strings.Contains(got, "<@U0BOSS>") || !strings.Contains(got, "&lt;@U0BOSS&gt;") {
			t.Errorf("a typo of a queue named <@U0BOSS>: %q; want the name suggested, inert", got)
		}
		if got := command("U0LEAD001", "snooze all 168h"); !strings.Contains(got, "Only SLA admins") {
			t.Errorf("snooze all by a non-admin: %q", got)
		}
		if got := command(admin, "snooze all 1m"); !strings.Contains(got, "Snoozed *all queues*") {
			t.Errorf("snooze all by an admin: %q", got)
		}
	})
}
