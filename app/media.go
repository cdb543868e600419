package app

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// The media types a rule may name. Analytics (observations, aggregates)
// says "voice" where the queue directory's mediaSettings says "call";
// slabot speaks analytics' word everywhere and accepts both.
const (
	Voice    = "voice"
	Chat     = "chat"
	Callback = "callback"
	Email    = "email"
	Message  = "message"
)

// MediaTypes lists the media types in display order.
var MediaTypes = []string{Voice, Chat, Callback, Email, Message}

// ErrUnknownMedia is wrapped by ParseMedia's errors.
var ErrUnknownMedia = errors.New("unknown media type")

// ParseMedia resolves a media type as a supervisor types it ("call" is
// "voice"), case-insensitively.
func ParseMedia(s string) (string, error) {
	if m, ok := canonicalMedia(s); ok {
		return m, nil
	}
	return "", fmt.Errorf("%w: %q (use voice|call, chat, callback, email, message)", ErrUnknownMedia, s)
}

// IsMedia reports whether s names a media type, so that a grammar can
// tell an optional media argument from the metric that follows it.
func IsMedia(s string) bool {
	_, ok := canonicalMedia(s)
	return ok
}

func canonicalMedia(s string) (string, bool) {
	switch m := strings.ToLower(strings.TrimSpace(s)); m {
	case "call", Voice:
		return Voice, true
	case Chat, Callback, Email, Message:
		return m, true
	}
	return "", false
}

// directoryMedia is the queue directory's mediaSettings key for media.
func directoryMedia(media string) string {
	if media == Voice {
		return "call"
	}
	return media
}

// Target is the queue's own service-level target for a media type, as set
// in Genesys Cloud, and whether the directory has one. media may be
// analytics' or the directory's word ("voice" or "call").
func (q QueueInfo) Target(media string) (ServiceLevelTarget, bool) {
	m, ok := canonicalMedia(media)
	if !ok {
		return ServiceLevelTarget{}, false
	}
	t, ok := q.ServiceLevels[directoryMedia(m)]
	if !ok || t.Within <= 0 {
		return ServiceLevelTarget{}, false
	}
	return t, true
}

// CreationDefault reports whether t is the target Genesys gives every new
// queue on every media type (80 % in 20 s): on callback, email and message
// it is usually a setting nobody chose.
func (t ServiceLevelTarget) CreationDefault() bool {
	return t.Percent == 80 && t.Within == 20*time.Second
}

// String renders the target as a supervisor reads it: "80 % in 20s".
func (t ServiceLevelTarget) String() string {
	return fmt.Sprintf("%s %% in %s", trimFloat(t.Percent), FormatDuration(t.Within))
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.1f", v)
	return strings.TrimSuffix(s, ".0")
}
