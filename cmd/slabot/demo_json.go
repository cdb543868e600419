package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"sync"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
	"github.com/slabot/slabot/internal/slackfake"
	"github.com/slabot/slabot/slackapi"
)

// demoSlackToken is the bot token demo -json's client sends to the Slack
// stand-in; it is never printed.
const demoSlackToken = "xoxb-demo"

// Markers of demo -json's lines: each Web API call is printed as the
// wireCall marker, the method, and the call's form as indented JSON; an
// upload to a file's upload URL as the wireUpload marker and a summary.
const (
	wireCall   = "⇢ Slack API "
	wireUpload = "⇢ upload to the file's upload URL: "
)

// wireJSONFields are the form fields Slack reads as JSON, printed as JSON
// rather than as the strings they travel as.
var wireJSONFields = map[string]bool{"blocks": true, "metadata": true, "files": true, "attachments": true, "view": true}

// wireTee delivers each notification to the console, as the demo shows
// it, and makes the same notification's Web API calls with a real
// slackapi.Client whose transport prints every request as it goes: what
// -json prints is what Slack would receive, by construction, not a
// rendering of it. The console's made-up ts are mapped to the ts the
// Slack side answered, so updates and thread replies name the message
// they would in Slack.
type wireTee struct {
	console dispatch.Notifier
	slack   *slackapi.Client
	w       io.Writer

	mu sync.Mutex
	ts map[string]string // console ts → Slack ts
}

// newWireTee tees console into a client with opts, the options slabot
// gives its Slack client (Genesys link, mention, charts), sending to
// apiURL.
func newWireTee(console dispatch.Notifier, apiURL string, opts slackapi.Options, w io.Writer) *wireTee {
	opts.APIURL = apiURL
	opts.HTTPClient = &http.Client{Transport: wirePrinter{next: http.DefaultTransport, w: w}}
	client := slackapi.New(demoSlackToken, opts)
	return &wireTee{console: console, slack: client, w: w, ts: make(map[string]string)}
}

// Notify delivers n to the console, then to Slack. The console's answer
// decides the delivery; a failure on the Slack side is printed, not
// retried (which would print the console's message twice).
func (t *wireTee) Notify(ctx context.Context, n app.Notification, ts string) (string, error) {
	newTS, err := t.console.Notify(ctx, n, ts)
	if err != nil {
		return newTS, err
	}
	t.mu.Lock()
	slackTS := t.ts[ts]
	t.mu.Unlock()
	got, err := t.slack.Notify(ctx, n, slackTS)
	if err != nil {
		fmt.Fprintf(t.w, "   (the Slack call failed: %v)\n", err)
		return newTS, nil
	}
	if newTS != "" && got != "" {
		t.mu.Lock()
		t.ts[newTS] = got
		t.mu.Unlock()
	}
	return newTS, nil
}

// wirePrinter is an http.RoundTripper that prints each request's payload
// before sending it on: a Web API call's form as JSON (without the token),
// an upload's file name and size.
type wirePrinter struct {
	next http.RoundTripper
	w    io.Writer
}

func (p wirePrinter) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("demo: read request: %w", err)
		}
	}
	p.print(r, body)
	out := r.Clone(r.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	return p.next.RoundTrip(out)
}

func (p wirePrinter) print(r *http.Request, body []byte) {
	ctype, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ctype == "multipart/form-data" || strings.HasPrefix(r.URL.Path, slackfake.UploadPath) {
		fmt.Fprintf(p.w, "   %s%s\n", wireUpload, uploadSummary(body, params["boundary"]))
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		fmt.Fprintf(p.w, "   %s%s: unreadable form: %v\n", wireCall, path.Base(r.URL.Path), err)
		return
	}
	payload := make(map[string]any, len(form))
	for k, vs := range form {
		if k == "token" || len(vs) == 0 {
			continue
		}
		if wireJSONFields[k] && json.Valid([]byte(vs[0])) {
			payload[k] = json.RawMessage(vs[0])
		} else {
			payload[k] = vs[0]
		}
	}
	// Printed as sent: the form's strings as they are ("<!date^…>" not
	// escaped for HTML), its JSON fields as slack-go encoded them.
	var raw bytes.Buffer
	enc := json.NewEncoder(&raw)
	enc.SetEscapeHTML(false)
	enc.SetIndent("   ", "  ")
	if err := enc.Encode(payload); err != nil {
		raw.WriteString(err.Error() + "\n")
	}
	fmt.Fprintf(p.w, "   %s%s\n   %s", wireCall, path.Base(r.URL.Path), raw.String())
}

// uploadSummary names the file a multipart upload carries and its size.
func uploadSummary(body []byte, boundary string) string {
	if boundary == "" {
		return fmt.Sprintf("%d bytes", len(body))
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		part, err := mr.NextPart()
		if err != nil {
			return fmt.Sprintf("%d bytes of form", len(body))
		}
		if part.FileName() != "" {
			n, _ := io.Copy(io.Discard, part)
			return fmt.Sprintf("%s, %d bytes", part.FileName(), n)
		}
	}
}

// newDemoSlack is the stand-in for Slack's Web API that demo -json's
// calls go to: it answers posts and updates as Slack does (a ts for each
// new message) and takes files in the three steps, so every call the
// story makes can be made and printed.
func newDemoSlack() *httptest.Server {
	files := &slackfake.Files{}
	var (
		mu  sync.Mutex
		seq int
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slackfake.IsUpload(r) {
			files.ServeUpload(w, r)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		method := strings.TrimPrefix(r.URL.Path, "/")
		if files.ServeMethod(w, method, r.PostForm) {
			return
		}
		mu.Lock()
		seq++
		ts := fmt.Sprintf("1764234000.%06d", seq)
		mu.Unlock()
		if method == "chat.update" {
			ts = r.PostForm.Get("ts")
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": r.PostForm.Get("channel"), "ts": ts})
	}))
	files.Base = "http://" + srv.Listener.Addr().String()
	srv.Start()
	return srv
}
