package slackapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/slabot/slabot/app/dispatch"
)

// FilesScope is the OAuth scope uploads need.
const FilesScope = "files:write"

// ErrNoFilesScope means the app was installed without files:write: slabot
// skips charts (logged once) instead of asking Slack again for each one.
var ErrNoFilesScope = errors.New("slack: the app lacks the " + FilesScope + " scope; charts are skipped")

// maxUpload bounds what UploadPNG sends; slabot's charts are about 40 KB.
const maxUpload = 5 << 20

// UploadPNG shares a PNG image in channel, in the thread of threadTS when
// it is set (the parent's ts, never a reply's), the way Slack takes files
// since files.upload was retired: files.getUploadURLExternal for an upload
// URL and file ID, the bytes POSTed to that URL, then
// files.completeUploadExternal with the files array, channel_id and
// thread_ts to share it. Failures are *dispatch.DeliveryError.
//
// Without the files:write scope the first refusal is logged once, naming
// the scope, and every later call returns ErrNoFilesScope at once without
// calling Slack: the rest of slabot carries on without charts.
func (c *Client) UploadPNG(ctx context.Context, channel, threadTS, filename, title string, png []byte) error {
	switch {
	case channel == "":
		return &dispatch.DeliveryError{Err: errors.New("slack: upload has no channel"),
			Fix: "set SLACK_CHANNEL_ID or route the queue with /sla route"}
	case len(png) == 0 || len(png) > maxUpload:
		return &dispatch.DeliveryError{Err: fmt.Errorf("slack: upload of %d bytes (want 1 to %d)", len(png), maxUpload)}
	case filename == "":
		return &dispatch.DeliveryError{Err: errors.New("slack: upload has no file name")}
	}
	if c.noFiles.Load() {
		return &dispatch.DeliveryError{Err: ErrNoFilesScope, Fix: "add the " + FilesScope + " scope to the Slack app (see manifest.yaml) and reinstall it"}
	}
	u, err := c.api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{
		FileName: filename, FileSize: len(png), AltTxt: title})
	if err != nil {
		return c.uploadFailed("files.getUploadURLExternal", err)
	}
	if u.UploadURL == "" || u.FileID == "" {
		return &dispatch.DeliveryError{Err: errors.New("slack files.getUploadURLExternal: answer has no upload_url or file_id"), Retry: true}
	}
	// slack-go POSTs the bytes as a multipart form (field "file"), which the
	// upload URL accepts as well as a raw body; it sends the token only to
	// Slack's own hosts or SLACK_API_URL's.
	if err := c.api.UploadToURL(ctx, slack.UploadToURLParameters{UploadURL: u.UploadURL,
		Reader: bytes.NewReader(png), Filename: filename}); err != nil {
		// The upload URL is a capability: keep it out of the error.
		return c.uploadFailed("file upload", redactURL(err, u.UploadURL))
	}
	if _, err := c.api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{
		Files: []slack.FileSummary{{ID: u.FileID, Title: title}}, Channel: channel, ThreadTimestamp: threadTS}); err != nil {
		return c.uploadFailed("files.completeUploadExternal", err)
	}
	c.log.Debug("slack file shared", "channel_id", channel, "thread_ts", threadTS, "file_id", u.FileID, "bytes", len(png))
	return nil
}

// uploadFailed classifies an upload step's failure; a missing files:write
// scope switches uploads off and is logged once.
func (c *Client) uploadFailed(method string, err error) error {
	de := classify(method, string(c.token), err)
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && se.Err == "missing_scope" {
		if !c.noFiles.Swap(true) {
			c.log.Warn("slack app lacks a scope for charts; charts are skipped until slabot restarts with it",
				"scope", FilesScope, "method", method,
				"fix", "add the "+FilesScope+" scope under OAuth & Permissions (or paste manifest.yaml again) and reinstall the app")
		}
		de.Err = fmt.Errorf("%w: %w", ErrNoFilesScope, de.Err)
	}
	return de
}

// redactURL flattens an error that names url.
func redactURL(err error, url string) error {
	if url == "" || !strings.Contains(err.Error(), url) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), url, "[upload url]"))
}
