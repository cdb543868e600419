package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// process is a running slabot binary.
type process struct {
	cmd *exec.Cmd
	url string
	out *syncWriter
}

func startSlabot(t *testing.T, vars map[string]string) *process {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(slabotBin, "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), fmt.Sprintf("PORT=%d", port)}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port), out: &syncWriter{}}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("slabot did not become ready:\n%s", p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SIGTERM during a burst of webhooks: every request answered 200 has its
// alert delivered (after a restart, if the first process had not sent it),
// and none is delivered twice.
func TestSIGTERMDuringBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	slack := newFakeSlack(t)
	rs := redistest.Start(t)
	vars := map[string]string{
		"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s", "SLACK_CHANNEL_ID": "C0ALERTS",
		"SLACK_API_URL": slack.URL + "/", "REDIS_URL": rs.URL, "GENESYS_WEBHOOK_TOKEN": "hook",
		"SLACK_POST_INTERVAL": "1ms", "LOG_LEVEL": "warn",
		"STORM_THRESHOLD": "off", // one message per alert, to count them
	}
	// Every queue breaches the default waiting threshold of 10.
	st, err := store.New(context.Background(), rs.URL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetThreshold(context.Background(), app.Threshold{QueueID: app.DefaultQueue, Metric: app.Waiting, Value: 10}); err != nil {
		t.Fatal(err)
	}
	first := startSlabot(t, vars)

	const senders, perSender = 8, 40
	var (
		mu       sync.Mutex
		accepted = make(map[string]bool) // queue IDs answered 200
		wg       sync.WaitGroup
	)
	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	for s := range senders {
		wg.Go(func() {
			client := &http.Client{Timeout: 5 * time.Second}
			for i := range perSender {
				q := fmt.Sprintf("q-%d-%d", s, i)
				body := fmt.Sprintf(`{"id":%q,"event_type":"com.genesiscloud.queue.metric","data":{"queue_id":%q,"metric":"waiting","value":50}}`, q, q)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, first.url+"/webhook/genesys", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer hook")
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					accepted[q] = true
					mu.Unlock()
				}
			}
		})
	}
	// SIGTERM lands mid-burst: once a sixth of the webhooks are answered,
	// however long that takes on a busy machine.
	for began := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n := len(accepted)
		mu.Unlock()
		if n >= senders*perSender/6 {
			break
		}
		if time.Since(began) > 20*time.Second {
			t.Fatalf("only %d webhooks answered 200 in 20 s:\n%s", n, first.out.String())
		}
	}
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- first.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("slabot exited with %v after SIGTERM:\n%s", err, first.out.String())
		}
	case <-time.After(25 * time.Second):
		t.Fatal("slabot did not exit within 25 s of SIGTERM")
	}
	wg.Wait()
	mu.Lock()
	n := len(accepted)
	mu.Unlock()
	if n == 0 {
		t.Fatal("no webhook was accepted before SIGTERM; the test proves nothing")
	}

	t.Logf("%d accepted before SIGTERM; %d posts so far", n, count(slack.recorded(), "chat.postMessage"))
	second := startSlabot(t, vars) // delivers whatever the first process left in the outbox
	defer func() {
		if t.Failed() {
			t.Logf("first:\n%s\nsecond:\n%s", first.out.String(), second.out.String())
		}
	}()
	slack.waitCalls(t, "every accepted alert", func(c []slackCall) bool { return count(c, "chat.postMessage") >= n })
	time.Sleep(500 * time.Millisecond) // room for a wrong extra message
	calls := slack.recorded()
	posted := make(map[string]int)
	for _, c := range calls {
		if c.Method != "chat.postMessage" {
			continue
		}
		// Buttons carry the alert's identity: "<queue>/<media>/<metric>|<episode>".
		if i := strings.Index(c.Blocks, `"q-`); i >= 0 {
			q, _, _ := strings.Cut(c.Blocks[i+1:], "/")
			posted[q]++
		}
	}
	for q := range accepted {
		if posted[q] != 1 {
			t.Errorf("queue %s: %d messages, want exactly 1", q, posted[q])
		}
	}
	t.Logf("%d webhooks accepted before SIGTERM, %d messages posted", n, count(calls, "chat.postMessage"))
}
