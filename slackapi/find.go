package slackapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/slack-go/slack"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
)

// MetadataEventType is the event_type of the message metadata every post
// and thread reply slabot sends carries
// (https://docs.slack.dev/messaging/message-metadata).
const MetadataEventType = "slabot_notification"

// findPageSize and findPages bound a look for a sent message: at most
// findPages requests of findPageSize messages each.
const (
	findPageSize = 200
	findPages    = 5
)

// findWindow is how far before a notification was enqueued its message is
// looked for, to allow for a clock difference between slabot and Slack.
const findWindow = time.Minute

// notificationMetadata names the notification a message delivers, uniquely
// among the messages of its channel: the alert episode or digest it
// belongs to, its kind, and for thread replies the reason and the
// reminder count. Announcements, which belong to nothing, are named by
// when they were enqueued.
func notificationMetadata(n app.Notification) slack.SlackMetadata {
	p := map[string]any{"kind": string(n.Kind)}
	reminders := n.Alert.Reminders
	switch {
	case n.Kind == app.KindAnnounce:
		p["at"] = n.At.UTC().Format(time.RFC3339Nano)
	case n.Digest != nil:
		p["digest_id"] = n.Digest.ID
		reminders = n.Digest.Reminders
	default:
		p["alert_id"] = n.Alert.ID
		p["episode"] = n.Alert.Episode
	}
	if n.Kind == app.KindReply || n.Kind == app.KindDigestReply {
		p["reason"] = n.Reason
		p["reminders"] = reminders
	}
	return slack.SlackMetadata{EventType: MetadataEventType, EventPayload: p}
}

// Find looks for the message that delivering n may have created although
// Slack's answer was lost: a post or announcement among the channel's
// messages since a minute before n was enqueued (conversations.history),
// a thread reply in the thread of ts (conversations.replies). It matches
// the metadata Notify attaches and returns the message's ts, or "" when
// there is none. It needs the channels:history scope (groups:history for
// private channels); failures are *dispatch.DeliveryError.
func (c *Client) Find(ctx context.Context, n app.Notification, ts string) (string, error) {
	want, err := normalize(notificationMetadata(n).EventPayload)
	if err != nil {
		return "", &dispatch.DeliveryError{Err: fmt.Errorf("slack: encode metadata: %w", err)}
	}
	switch n.Kind {
	case app.KindPost, app.KindDigestPost, app.KindAnnounce:
		return c.findInHistory(ctx, n.Channel, renderTime(n).Add(-findWindow), want)
	case app.KindReply, app.KindDigestReply:
		if ts == "" {
			return "", &dispatch.DeliveryError{Err: errors.New("slack: look for a " + string(n.Kind) + " without its thread ts")}
		}
		return c.findInThread(ctx, n.Channel, ts, want)
	}
	return "", nil // updates create no message; a chart is shared again rather than looked for
}

func (c *Client) findInHistory(ctx context.Context, channel string, since time.Time, want map[string]any) (string, error) {
	params := &slack.GetConversationHistoryParameters{ChannelID: channel, Oldest: slackTS(since),
		Limit: findPageSize, IncludeAllMetadata: true}
	for range findPages {
		resp, err := c.api.GetConversationHistoryContext(ctx, params)
		if err != nil {
			return "", classify("conversations.history", string(c.token), err)
		}
		if ts := match(resp.Messages, want); ts != "" {
			return ts, nil
		}
		if !resp.HasMore || resp.ResponseMetaData.NextCursor == "" {
			return "", nil
		}
		params.Cursor = resp.ResponseMetaData.NextCursor
	}
	return "", nil
}

func (c *Client) findInThread(ctx context.Context, channel, thread string, want map[string]any) (string, error) {
	params := &slack.GetConversationRepliesParameters{ChannelID: channel, Timestamp: thread,
		Limit: findPageSize, IncludeAllMetadata: true}
	for range findPages {
		msgs, more, cursor, err := c.api.GetConversationRepliesContext(ctx, params)
		if err != nil {
			return "", classify("conversations.replies", string(c.token), err)
		}
		if ts := match(msgs, want); ts != "" {
			return ts, nil
		}
		if !more || cursor == "" {
			return "", nil
		}
		params.Cursor = cursor
	}
	return "", nil
}

// match returns the ts of the first message whose metadata is slabot's and
// carries every field of want; fields Slack adds are ignored.
func match(msgs []slack.Message, want map[string]any) string {
	for _, m := range msgs {
		if m.Metadata.EventType != MetadataEventType || m.Timestamp == "" {
			continue
		}
		ok := true
		for k, v := range want {
			if got, has := m.Metadata.EventPayload[k]; !has || !reflect.DeepEqual(got, v) {
				ok = false
				break
			}
		}
		if ok {
			return m.Timestamp
		}
	}
	return ""
}

// normalize gives a payload the types it has once decoded from Slack's
// JSON (numbers as float64), so that it compares equal.
func normalize(p map[string]any) (map[string]any, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(raw, &out)
}

// slackTS writes t as a Slack timestamp (seconds.microseconds).
func slackTS(t time.Time) string {
	return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
}
