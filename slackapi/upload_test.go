package slackapi

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/slabot/slabot/app/dispatch"
)

// pngBytes is not a real image: the upload path never looks inside.
var pngBytes = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 3000)...)

func TestUploadPNGSharesInThread(t *testing.T) {
	f := newFakeSlack(t, "/api/")
	c := newTestClient(t, f, Options{})

	if err := c.UploadPNG(t.Context(), "C1", "1700000000.000100", "support-longest_wait.png", "Support: longest wait", pngBytes); err != nil {
		t.Fatalf("UploadPNG: %v", err)
	}
	var methods []string
	for _, call := range f.Calls() {
		methods = append(methods, call.Method)
	}
	if got, want := strings.Join(methods, ","), "files.getUploadURLExternal,files.completeUploadExternal"; got != want {
		t.Errorf("Web API calls = %s, want %s", got, want)
	}
	get := f.Calls()[0]
	if get.Form.Get("filename") != "support-longest_wait.png" || get.Form.Get("length") != "3008" {
		t.Errorf("getUploadURLExternal filename=%q length=%q, want the file's name and size",
			get.Form.Get("filename"), get.Form.Get("length"))
	}
	complete := f.Calls()[1]
	if got := complete.Form.Get("files"); !strings.Contains(got, `"title":"Support: longest wait"`) || !strings.HasPrefix(got, "[") {
		t.Errorf("completeUploadExternal files = %s, want a JSON array with the title", got)
	}
	shared := f.files.Shared()
	if len(shared) != 1 {
		t.Fatalf("%d files shared, want 1", len(shared))
	}
	got := shared[0]
	if got.Channel != "C1" || got.ThreadTS != "1700000000.000100" || got.Title != "Support: longest wait" {
		t.Errorf("shared in %s thread %q titled %q, want C1, the alert's thread, the title", got.Channel, got.ThreadTS, got.Title)
	}
	if !bytes.Equal(got.Bytes, pngBytes) {
		t.Errorf("fake received %d bytes, not the PNG's %d", len(got.Bytes), len(pngBytes))
	}
}

func TestUploadPNGWithoutFilesScopeIsSkippedAndLoggedOnce(t *testing.T) {
	f := newFakeSlack(t, "/api/")
	f.respond = func(w http.ResponseWriter, c slackCall) bool {
		if c.Method != "files.getUploadURLExternal" {
			return false
		}
		writeJSON(w, map[string]any{"ok": false, "error": "missing_scope", "needed": "files:write", "provided": "chat:write,commands"})
		return true
	}
	var logs bytes.Buffer
	c := newTestClient(t, f, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	for i := range 3 {
		err := c.UploadPNG(t.Context(), "C1", "", "a.png", "a", pngBytes)
		if !errors.Is(err, ErrNoFilesScope) {
			t.Fatalf("upload %d: err = %v, want ErrNoFilesScope", i, err)
		}
		var de *dispatch.DeliveryError
		if !errors.As(err, &de) || de.Retry {
			t.Fatalf("upload %d: err = %#v, want a permanent DeliveryError", i, err)
		}
	}
	if n := len(f.Calls()); n != 1 {
		t.Errorf("Slack was asked %d times, want once: after missing_scope uploads are skipped", n)
	}
	if n := strings.Count(logs.String(), "lacks a scope"); n != 1 {
		t.Errorf("missing scope logged %d times, want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "scope=files:write") {
		t.Errorf("log does not name the scope:\n%s", logs.String())
	}
}

func TestUploadPNGRateLimitedIsRetryable(t *testing.T) {
	f := newFakeSlack(t, "/api/")
	f.respond = func(w http.ResponseWriter, c slackCall) bool {
		if c.Method != "files.completeUploadExternal" {
			return false
		}
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	}
	c := newTestClient(t, f, Options{})
	err := c.UploadPNG(t.Context(), "C1", "1.2", "a.png", "a", pngBytes)
	var de *dispatch.DeliveryError
	if !errors.As(err, &de) || !de.Retry || de.After.Seconds() != 7 {
		t.Fatalf("err = %#v, want a retryable DeliveryError after 7s", err)
	}
	if errors.Is(err, ErrNoFilesScope) {
		t.Error("a rate limit switched charts off")
	}
}

func TestUploadPNGRejectsBadInput(t *testing.T) {
	f := newFakeSlack(t, "/api/")
	c := newTestClient(t, f, Options{})
	for name, call := range map[string]func() error{
		"no channel": func() error { return c.UploadPNG(t.Context(), "", "", "a.png", "a", pngBytes) },
		"no bytes":   func() error { return c.UploadPNG(t.Context(), "C1", "", "a.png", "a", nil) },
		"no name":    func() error { return c.UploadPNG(t.Context(), "C1", "", "", "a", pngBytes) },
	} {
		var de *dispatch.DeliveryError
		if err := call(); !errors.As(err, &de) || de.Retry {
			t.Errorf("%s: err = %v, want a permanent DeliveryError", name, err)
		}
	}
	if n := len(f.Calls()); n != 0 {
		t.Errorf("bad input reached Slack %d times", n)
	}
}
