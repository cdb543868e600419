package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	for _, args := range [][]string{{"demo"}, {"demo", "-json"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out := &syncWriter{}
			if err := run(context.Background(), args, env(nil), out); err != nil {
				t.Fatalf("demo failed: %v\n%s", err, out.String())
			}
			got := out.String()
			for _, want := range []string{
				"new message in C0DEMO",
				"(acknowledged)", "Acknowledged by <@U0SUPERVISOR>",
				"*Resolved: Support*", "thread reply", "after 5m 40s",
				"Threshold set: *default* waiting above 10",
				"Sales <VIP> & Co", // escaped for Slack, readable on the console
				"(snoozed)", "Unsnooze queue",
				"*Open alerts* (6)",
				"Alert storm: 6 queues breaching since 09:05 UTC", // the digest, updated in place
				"*SLA report, last 7 days*", "── Slack: chart in C0DEMO", "SLA report, last 7 days\n", "sla-report-0002.png",
			} {
				if !strings.Contains(got, want) {
					t.Errorf("demo output lacks %q", want)
				}
			}
			// One message for Support; the storm's first four alone, the rest in one digest.
			if n := strings.Count(got, "new message in"); n != 6 {
				t.Errorf("%d new messages, want 6", n)
			}
			if strings.Contains(args[len(args)-1], "json") != strings.Contains(got, `"blocks"`) {
				t.Errorf("Block Kit JSON printed = %v with args %v", strings.Contains(got, `"blocks"`), args)
			}
		})
	}
}

// wirePrinted is one Web API call as demo -json printed it.
type wirePrinted struct {
	Method  string
	Payload map[string]json.RawMessage
}

// parseWire reads demo -json's output: each Web API call's method and
// payload, and each upload's summary line.
func parseWire(t *testing.T, out string) (calls []wirePrinted, uploads []string) {
	t.Helper()
	for pos := 0; pos < len(out); {
		nl := strings.IndexByte(out[pos:], '\n')
		if nl < 0 {
			break
		}
		line := strings.TrimSpace(out[pos : pos+nl])
		pos += nl + 1
		if s, ok := strings.CutPrefix(line, wireUpload); ok {
			uploads = append(uploads, s)
			continue
		}
		method, ok := strings.CutPrefix(line, wireCall)
		if !ok {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(out[pos:]))
		var p map[string]json.RawMessage
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("the payload printed after %q is not JSON: %v", line, err)
		}
		pos += int(dec.InputOffset())
		calls = append(calls, wirePrinted{Method: method, Payload: p})
	}
	return calls, uploads
}

// printedString is a payload field printed as a JSON string ("" when
// absent).
func printedString(t *testing.T, p map[string]json.RawMessage, k string) string {
	t.Helper()
	raw, ok := p[k]
	if !ok {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("%s = %s, want a string", k, raw)
	}
	return s
}

// compactJSON is s as compact JSON, for comparing payloads.
func compactJSON(t *testing.T, s string) string {
	t.Helper()
	if s == "" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return b.String()
}

// TestDemoJSONIsWhatSlackReceives: demo -json makes the story's Web API
// calls to a fake Slack and prints each as it goes; every printed call is
// the call the fake received, field for field (fallback text, blocks,
// metadata, thread, the files' names, titles and sizes), none missing
// and none extra, and nothing prints the token.
func TestDemoJSONIsWhatSlackReceives(t *testing.T) {
	slack := newFakeSlack(t)
	slack.token = demoSlackToken
	out := &syncWriter{}
	if err := runDemo(context.Background(), []string{"-json", "-charts", t.TempDir()}, out, slack.URL+"/"); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	text := out.String()
	if strings.Contains(text, demoSlackToken) {
		t.Error("demo -json printed the bot token")
	}
	printed, uploads := parseWire(t, text)

	var api []wirePrinted
	var getURL, complete []wirePrinted
	for _, p := range printed {
		switch p.Method {
		case "files.getUploadURLExternal":
			getURL = append(getURL, p)
		case "files.completeUploadExternal":
			complete = append(complete, p)
		default:
			api = append(api, p)
		}
	}
	got := slack.recorded()
	if len(api) != len(got) {
		t.Fatalf("demo -json printed %d chat calls, the fake received %d", len(api), len(got))
	}
	posts, withBlocks, withMeta := 0, 0, 0
	for i, c := range got {
		p := api[i]
		if p.Method != c.Method {
			t.Fatalf("call %d: printed %s, the fake received %s", i, p.Method, c.Method)
		}
		for k, want := range map[string]string{"channel": c.Channel, "ts": c.TS, "thread_ts": c.ThreadTS, "text": c.Text} {
			if got := printedString(t, p.Payload, k); got != want {
				t.Errorf("call %d (%s): printed %s %q, the fake received %q", i, c.Method, k, got, want)
			}
		}
		for k, want := range map[string]string{"blocks": c.Blocks, "metadata": c.Metadata} {
			if got := compactJSON(t, string(p.Payload[k])); got != compactJSON(t, want) {
				t.Errorf("call %d (%s): printed %s\n%s\nthe fake received\n%s", i, c.Method, k, got, want)
			}
		}
		if c.Text == "" {
			t.Errorf("call %d (%s) has no fallback text", i, c.Method)
		}
		if c.Method == "chat.postMessage" {
			posts++
		}
		if c.Blocks != "" {
			withBlocks++
		}
		if c.Metadata != "" {
			withMeta++
		}
	}
	// The story: Support's message, a thread reply, four alerts and a
	// digest of the storm; updates of each.
	if posts < 6 || withBlocks < 8 || withMeta != posts {
		t.Errorf("%d posts, %d calls with blocks, %d with metadata: want at least 6 posts, 8 with blocks, metadata on every post", posts, withBlocks, withMeta)
	}

	files := slack.files.Shared()
	if len(files) != 2 || files[0].Name != "sla-chart.png" || files[1].Name != "sla-report.png" {
		t.Fatalf("shared %+v, want the breach's chart then the report's", files)
	}
	if len(getURL) != len(files) || len(complete) != len(files) || len(uploads) != len(files) {
		t.Fatalf("printed %d upload URL requests, %d uploads, %d completions for %d files", len(getURL), len(uploads), len(complete), len(files))
	}
	for i, f := range files {
		if got, want := printedString(t, getURL[i].Payload, "filename"), f.Name; got != want {
			t.Errorf("file %d: printed filename %q, shared %q", i, got, want)
		}
		if got, want := printedString(t, getURL[i].Payload, "length"), strconv.Itoa(len(f.Bytes)); got != want {
			t.Errorf("file %d: printed length %s, uploaded %s bytes", i, got, want)
		}
		if want := fmt.Sprintf("%s, %d bytes", f.Name, len(f.Bytes)); uploads[i] != want {
			t.Errorf("file %d: printed upload %q, want %q", i, uploads[i], want)
		}
		var shared []struct{ ID, Title string }
		if err := json.Unmarshal(complete[i].Payload["files"], &shared); err != nil || len(shared) != 1 || shared[0].Title != f.Title || shared[0].ID != f.ID {
			t.Errorf("file %d: printed files %s, shared %s titled %q", i, complete[i].Payload["files"], f.ID, f.Title)
		}
		if printedString(t, complete[i].Payload, "channel_id") != f.Channel || printedString(t, complete[i].Payload, "thread_ts") != f.ThreadTS {
			t.Errorf("file %d: printed channel %q thread %q, shared in %q thread %q", i,
				printedString(t, complete[i].Payload, "channel_id"), printedString(t, complete[i].Payload, "thread_ts"), f.Channel, f.ThreadTS)
		}
	}
	if files[0].ThreadTS == "" || files[1].ThreadTS != "" {
		t.Errorf("breach chart in thread %q, report chart in thread %q: want the first in the alert's thread, the second in the channel", files[0].ThreadTS, files[1].ThreadTS)
	}
}
