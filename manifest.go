// Package slabot holds files that ship with the binary. The service itself
// lives in app, handlers, store, slackapi, genesys and cmd/slabot.
package slabot

import (
	_ "embed"
	"strings"
)

//go:embed manifest.yaml
var manifest string

//go:embed manifest.socket.yaml
var socketManifest string

// SocketManifest returns the Slack app manifest for Socket Mode
// (SLACK_APP_TOKEN): the same app with no request URLs.
func SocketManifest() string { return socketManifest }

// PlaceholderHost is the host manifest.yaml uses for every request URL.
const PlaceholderHost = "https://slabot.example.com"

// Manifest returns the Slack app manifest with its request URLs pointing at
// publicURL (e.g. https://slabot.herokuapp.com); empty keeps the placeholder.
func Manifest(publicURL string) string {
	if publicURL == "" {
		return manifest
	}
	return strings.ReplaceAll(manifest, PlaceholderHost, strings.TrimRight(publicURL, "/"))
}
