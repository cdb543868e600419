// Package slackfake holds the part of a fake Slack Web API that slabot's
// test fakes share: the three-step file upload Slack requires since it
// retired files.upload (https://docs.slack.dev/messaging/working-with-files).
// Each fake (slackapi, handlers, cmd/slabot, bench/rig) keeps its own
// chat.* handling and hands file calls to a Files.
package slackfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// UploadPath is where a Files serves upload URLs, under the fake's root.
const UploadPath = "/upload/"

// File is one upload as the fake saw it.
type File struct {
	ID, Name, AltText string
	// Length is what files.getUploadURLExternal announced; Bytes what was
	// POSTed to the upload URL.
	Length   int
	Bytes    []byte
	Uploaded bool
	// Title, Channel and ThreadTS are set when completeUploadExternal
	// shared the file.
	Title, Channel, ThreadTS string
}

// Files fakes files.getUploadURLExternal, the upload URL and
// files.completeUploadExternal, recording each shared file's bytes. The
// zero value is not usable: set Base.
type Files struct {
	// Base is the fake's root URL (scheme and host, e.g. an httptest
	// server's URL): upload URLs are Base + UploadPath + file ID, on the
	// same host as the API so that slack-go sends its token there.
	Base string
	// Refuse, when set, is asked before each files.* method; a non-empty
	// answer is the Slack error code to fail it with (e.g. missing_scope).
	Refuse func(method string) string

	mu     sync.Mutex
	seq    int
	byID   map[string]*File
	shared []File
}

// Shared returns the files shared so far, in order.
func (f *Files) Shared() []File {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]File, len(f.shared))
	copy(out, f.shared)
	return out
}

// IsUpload reports whether r is a POST to one of the fake's upload URLs.
func IsUpload(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, UploadPath) }

// ServeMethod answers a files.* Web API method given its form (token
// already checked by the caller) and reports whether it was one.
func (f *Files) ServeMethod(w http.ResponseWriter, method string, form url.Values) bool {
	if method != "files.getUploadURLExternal" && method != "files.completeUploadExternal" {
		return false
	}
	if f.Refuse != nil {
		if code := f.Refuse(method); code != "" {
			answer := map[string]any{"ok": false, "error": code}
			if code == "missing_scope" {
				answer["needed"], answer["provided"] = "files:write", "commands,chat:write"
			}
			writeJSON(w, answer)
			return true
		}
	}
	if method == "files.getUploadURLExternal" {
		f.getUploadURL(w, form)
	} else {
		f.complete(w, form)
	}
	return true
}

func (f *Files) getUploadURL(w http.ResponseWriter, form url.Values) {
	n, err := strconv.Atoi(form.Get("length"))
	if form.Get("filename") == "" || err != nil || n <= 0 {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_arguments"})
		return
	}
	f.mu.Lock()
	f.seq++
	id := fmt.Sprintf("F0FAKE%04d", f.seq)
	if f.byID == nil {
		f.byID = make(map[string]*File)
	}
	f.byID[id] = &File{ID: id, Name: form.Get("filename"), AltText: form.Get("alt_txt"), Length: n}
	f.mu.Unlock()
	writeJSON(w, map[string]any{"ok": true, "upload_url": strings.TrimSuffix(f.Base, "/") + UploadPath + id, "file_id": id})
}

// ServeUpload takes a file's bytes POSTed to its upload URL, as a
// multipart form's "file" field or as the raw body (Slack accepts both),
// and answers as Slack does: 200 "OK - <length>".
func (f *Files) ServeUpload(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, UploadPath)
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var data []byte
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		file, _, ferr := r.FormFile("file")
		if err = ferr; err == nil {
			data, err = io.ReadAll(file)
			_ = file.Close()
		}
	} else {
		data, err = io.ReadAll(r.Body)
	}
	if err != nil {
		http.Error(w, "unreadable upload: "+err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	file := f.byID[id]
	switch {
	case file == nil:
		http.Error(w, "unknown upload URL", http.StatusNotFound)
		return
	case len(data) != file.Length:
		http.Error(w, fmt.Sprintf("got %d bytes, announced %d", len(data), file.Length), http.StatusBadRequest)
		return
	}
	file.Bytes, file.Uploaded = data, true
	_, _ = fmt.Fprintf(w, "OK - %d", len(data))
}

// complete shares uploaded files: files is a JSON array of {"id","title"};
// a file whose bytes never arrived is refused.
func (f *Files) complete(w http.ResponseWriter, form url.Values) {
	var files []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(form.Get("files")), &files); err != nil || len(files) == 0 {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_arguments"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]map[string]any, 0, len(files))
	for _, in := range files {
		if file := f.byID[in.ID]; file == nil || !file.Uploaded {
			writeJSON(w, map[string]any{"ok": false, "error": "file_not_found"})
			return
		}
	}
	for _, in := range files {
		share := *f.byID[in.ID]
		share.Title, share.Channel, share.ThreadTS = in.Title, form.Get("channel_id"), form.Get("thread_ts")
		f.shared = append(f.shared, share)
		delete(f.byID, in.ID)
		out = append(out, map[string]any{"id": in.ID, "title": in.Title})
	}
	writeJSON(w, map[string]any{"ok": true, "files": out})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}
