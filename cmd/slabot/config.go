package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
	"github.com/slabot/slabot/store"
)

// Secret is a credential. It never prints: logs and errors show
// "[redacted]" however the value is formatted.
type Secret string

// LogValue keeps secrets out of structured logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.redacted()) }

// String keeps secrets out of fmt output.
func (s Secret) String() string { return s.redacted() }

// MarshalText keeps secrets out of JSON and any other encoding.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.redacted()), nil }

func (s Secret) redacted() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// Config is slabot's configuration, read from the environment once at
// start-up (DESIGN §7). Nothing else reads the environment.
type Config struct {
	Port             int
	RedisURL         Secret // may hold a password
	RedisTLSInsecure bool
	// RedisPoolSize caps this replica's Redis connections; RedisMaxMemory
	// (bytes, 0: unknown) is the memory guard's limit when Redis does not
	// report its maxmemory.
	RedisPoolSize  int
	RedisMaxMemory int64
	// DedupWindow is how long webhook event keys are remembered
	// (SLABOT_DEDUP_WINDOW); events sent longer ago are ignored as stale.
	DedupWindow time.Duration

	SlackBotToken      Secret
	SlackSigningSecret Secret
	SlackChannelID     string
	SlackAPIURL        string
	SlackTeamID        string
	SlackMention       string
	SLAAdmins          []string
	// DefaultLongestWait is the built-in default threshold; zero when off.
	DefaultLongestWait time.Duration
	RemindAfter        time.Duration
	// StormThreshold alerts posting in one channel within StormWindow are
	// collected in one digest message; 0 turns digests off.
	StormThreshold int
	StormWindow    time.Duration
	// SlackPostInterval is the minimum gap between new messages in one
	// channel (Slack allows about one per second).
	SlackPostInterval time.Duration

	WebhookSecret Secret
	WebhookToken  Secret

	GenesysClientID     string
	GenesysClientSecret Secret
	GenesysRegion       string
	PollInterval        time.Duration
	GenesysQueues       []string

	LogLevel slog.Level

	// SlackAppToken (SLACK_APP_TOKEN, xapp-…) turns on Socket Mode: Slack's
	// requests arrive over a WebSocket slabot opens, so neither a public
	// URL nor SLACK_SIGNING_SECRET is needed.
	SlackAppToken Secret
	// Security (issue 14). LocalOptIn (SLABOT_LOCAL) lets local mode run on
	// REDIS_URL, under LocalPrefix; MaxQueues (SLABOT_MAX_QUEUES) caps the
	// queues webhooks create, 0 for none; RequireWebhookTimestamp
	// (GENESYS_WEBHOOK_REQUIRE_TIMESTAMP) refuses HMACs without a signed
	// timestamp.
	LocalOptIn              bool
	MaxQueues               int
	RequireWebhookTimestamp bool

	// Report (SLA_REPORT, e.g. "Mon 09:00 Europe/London") is when the
	// weekly SLA report goes to SlackChannelID; nil when unset, and then
	// /sla report shows times in UTC.
	Report *app.ReportSchedule
}

// SocketMode reports whether Slack's requests come over Socket Mode.
func (c Config) SocketMode() bool { return c.SlackAppToken != "" }

// LocalPrefix starts every key of a local-mode slabot on REDIS_URL, so that
// it never reads or changes a production slabot's state on the same Redis,
// and never takes production notifications off its outbox.
const LocalPrefix = "slabot-local:"

// defaultMaxQueues is SLABOT_MAX_QUEUES unset: far above any contact
// centre's queue count, far below what fills a small Redis plan.
const defaultMaxQueues = 20_000

// Local reports whether slabot runs without Slack credentials: messages
// go to the console and unsigned webhooks are accepted.
func (c Config) Local() bool { return c.SlackBotToken == "" }

// Polling reports whether Genesys API credentials are set.
func (c Config) Polling() bool { return c.GenesysClientID != "" && c.GenesysClientSecret != "" }

// configVariables lists every variable loadConfig reads; deploy files
// describe each (a test checks app.json).
var configVariables = []string{
	"PORT", "REDIS_URL", "REDIS_TLS_INSECURE", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_CHANNEL_ID",
	"SLACK_API_URL", "SLACK_TEAM_ID", "SLACK_MENTION", "SLACK_POST_INTERVAL", "SLA_ADMINS", "SLA_DEFAULT_LONGEST_WAIT",
	"REMIND_AFTER", "STORM_THRESHOLD", "STORM_WINDOW", "GENESYS_WEBHOOK_SECRET", "GENESYS_WEBHOOK_TOKEN", "GENESYS_CLIENT_ID", "GENESYS_CLIENT_SECRET",
	"GENESYS_REGION", "GENESYS_POLL_INTERVAL", "GENESYS_QUEUES", "LOG_LEVEL",
	"SLACK_APP_TOKEN",
	"REDIS_POOL_SIZE", "REDIS_MAXMEMORY", "SLABOT_DEDUP_WINDOW",
	"SLABOT_LOCAL", "SLABOT_MAX_QUEUES", "GENESYS_WEBHOOK_REQUIRE_TIMESTAMP",
	"SLA_REPORT",
}

// loadConfig reads and validates the environment. Its error names every
// missing or invalid variable at once, so an operator fixes them in one go.
func loadConfig(getenv func(string) string) (Config, error) {
	var problems []string
	bad := func(name, why string) { problems = append(problems, name+": "+why) }
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }

	c := Config{
		RedisURL:            Secret(get("REDIS_URL")),
		SlackBotToken:       Secret(get("SLACK_BOT_TOKEN")),
		SlackSigningSecret:  Secret(get("SLACK_SIGNING_SECRET")),
		SlackChannelID:      get("SLACK_CHANNEL_ID"),
		SlackAPIURL:         get("SLACK_API_URL"),
		SlackTeamID:         get("SLACK_TEAM_ID"),
		SlackMention:        get("SLACK_MENTION"),
		WebhookSecret:       Secret(get("GENESYS_WEBHOOK_SECRET")),
		WebhookToken:        Secret(get("GENESYS_WEBHOOK_TOKEN")),
		GenesysClientID:     get("GENESYS_CLIENT_ID"),
		GenesysClientSecret: Secret(get("GENESYS_CLIENT_SECRET")),
		GenesysRegion:       get("GENESYS_REGION"),
		SLAAdmins:           splitList(get("SLA_ADMINS")),
		GenesysQueues:       splitList(get("GENESYS_QUEUES")),
	}

	c.Port = 3000
	if v := get("PORT"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 || p > 65535 {
			bad("PORT", "not a port number")
		}
		c.Port = p
	}
	if v := get("REDIS_TLS_INSECURE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad("REDIS_TLS_INSECURE", "use true or false")
		}
		c.RedisTLSInsecure = b
	}
	c.RedisPoolSize = store.DefaultPoolSize
	if v := get("REDIS_POOL_SIZE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < store.MinPoolSize || n > 1000 {
			bad("REDIS_POOL_SIZE", fmt.Sprintf("a number of connections from %d to 1000", store.MinPoolSize))
		}
		c.RedisPoolSize = n
	}
	if v := get("REDIS_MAXMEMORY"); v != "" {
		n, err := parseBytes(v)
		if err != nil || n < 1<<20 {
			bad("REDIS_MAXMEMORY", "a size of at least 1mb, such as 25mb or 26214400 (bytes)")
		}
		c.RedisMaxMemory = n
	}
	c.DedupWindow = store.DefaultDedupWindow
	if v := get("SLABOT_DEDUP_WINDOW"); v != "" {
		d, err := parseDays(v)
		if err != nil || d < store.MinDedupWindow || d > store.MaxDedupWindow {
			bad("SLABOT_DEDUP_WINDOW", "a duration from 15m to 7d (168h), such as 1h, 6h or 1d")
		} else {
			c.DedupWindow = d
		}
	}
	if v := string(c.RedisURL); v != "" {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			bad("REDIS_URL", "use redis://, rediss:// or unix://")
		}
	}
	if c.SlackAPIURL == "" {
		c.SlackAPIURL = "https://slack.com/api/"
	} else if u, err := url.Parse(c.SlackAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("SLACK_API_URL", "not an http(s) URL")
	}
	if c.SlackChannelID != "" && !validSlackID(c.SlackChannelID, "CGD") {
		bad("SLACK_CHANNEL_ID", "a channel ID looks like C0123456789 (not a #name)")
	}
	for _, u := range c.SLAAdmins {
		if !validSlackID(u, "UW") {
			bad("SLA_ADMINS", fmt.Sprintf("%q is not a Slack user ID (U…)", u))
		}
	}

	c.DefaultLongestWait = 300 * time.Second
	switch v := strings.ToLower(get("SLA_DEFAULT_LONGEST_WAIT")); v {
	case "":
	case "off", "false", "none", "0":
		c.DefaultLongestWait = 0
	default:
		d, err := app.ParseDuration(v)
		if err != nil || d <= 0 {
			bad("SLA_DEFAULT_LONGEST_WAIT", "a duration such as 300s or 5m, or off")
		}
		c.DefaultLongestWait = d
	}
	c.RemindAfter = durationVar(get("REMIND_AFTER"), 15*time.Minute, time.Minute, "REMIND_AFTER", bad)
	c.StormThreshold = engine.DefaultStormThreshold
	switch v := strings.ToLower(get("STORM_THRESHOLD")); v {
	case "":
	case "off", "false", "none", "0":
		c.StormThreshold = 0
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 || n > 1000 {
			bad("STORM_THRESHOLD", "a number of alerts from 2 to 1000, or off")
		}
		c.StormThreshold = n
	}
	c.StormWindow = durationVar(get("STORM_WINDOW"), engine.DefaultStormWindow, time.Second, "STORM_WINDOW", bad)
	c.SlackPostInterval = durationVar(get("SLACK_POST_INTERVAL"), time.Second, time.Millisecond, "SLACK_POST_INTERVAL", bad)
	c.PollInterval = durationVar(get("GENESYS_POLL_INTERVAL"), 10*time.Second, 2*time.Second, "GENESYS_POLL_INTERVAL", bad)

	if v := get("LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			bad("LOG_LEVEL", "use debug, info, warn or error")
		}
	}
	if (c.GenesysClientID == "") != (c.GenesysClientSecret == "") {
		bad("GENESYS_CLIENT_ID/GENESYS_CLIENT_SECRET", "set both or neither")
	}

	c.SlackAppToken = Secret(get("SLACK_APP_TOKEN"))
	switch {
	case c.SlackAppToken == "":
	case !strings.HasPrefix(string(c.SlackAppToken), "xapp-"):
		bad("SLACK_APP_TOKEN", "an app-level token starts with xapp- (Basic Information → App-Level Tokens), not the xoxb- bot token")
	case c.Local():
		bad("SLACK_APP_TOKEN", "Socket Mode needs SLACK_BOT_TOKEN too (OAuth & Permissions → Bot User OAuth Token)")
	}

	c.LocalOptIn = boolVar(get("SLABOT_LOCAL"), "SLABOT_LOCAL", bad)
	c.RequireWebhookTimestamp = boolVar(get("GENESYS_WEBHOOK_REQUIRE_TIMESTAMP"), "GENESYS_WEBHOOK_REQUIRE_TIMESTAMP", bad)
	c.MaxQueues = defaultMaxQueues
	switch v := strings.ToLower(get("SLABOT_MAX_QUEUES")); v {
	case "":
	case "off", "none":
		c.MaxQueues = 0
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			bad("SLABOT_MAX_QUEUES", "a number of queues such as 20000, or off")
		}
		c.MaxQueues = n
	}
	if v := get("SLA_REPORT"); v != "" {
		rs, err := app.ParseReportSchedule(v)
		if err != nil {
			bad("SLA_REPORT", err.Error())
		} else {
			c.Report = &rs
		}
	}
	if c.RequireWebhookTimestamp && c.WebhookSecret == "" {
		bad("GENESYS_WEBHOOK_REQUIRE_TIMESTAMP", "needs GENESYS_WEBHOOK_SECRET (the timestamp is signed with it)")
	}
	switch {
	case c.Local() && c.RedisURL != "" && !c.LocalOptIn:
		bad("SLACK_BOT_TOKEN", "not set while REDIS_URL is: local mode (unsigned Slack requests and webhooks, messages on the console) "+
			"must not run on a Redis that production may share. Set SLACK_BOT_TOKEN (production), unset REDIS_URL (embedded Redis), "+
			"or set SLABOT_LOCAL=1 to run locally on it under keys of its own ("+LocalPrefix+")")
	case !c.Local() && c.LocalOptIn:
		bad("SLABOT_LOCAL", "local mode is for running without SLACK_BOT_TOKEN; unset one of them")
	}

	if !c.Local() {
		if c.SlackSigningSecret == "" && !c.SocketMode() {
			bad("SLACK_SIGNING_SECRET", "required with SLACK_BOT_TOKEN (Basic Information → Signing Secret), unless SLACK_APP_TOKEN turns on Socket Mode")
		}
		if c.SlackChannelID == "" {
			bad("SLACK_CHANNEL_ID", "required with SLACK_BOT_TOKEN (the channel that receives alerts)")
		}
		// In Socket Mode slabot answers /sla without any Genesys input (a
		// trial); build warns that no alert can fire.
		if c.WebhookSecret == "" && c.WebhookToken == "" && !c.Polling() && !c.SocketMode() {
			bad("GENESYS_WEBHOOK_TOKEN or GENESYS_WEBHOOK_SECRET", "required with SLACK_BOT_TOKEN unless GENESYS_CLIENT_ID/SECRET are set (polling only)")
		}
	}
	if len(problems) > 0 {
		return c, errors.New("invalid configuration:\n  " + strings.Join(problems, "\n  "))
	}
	return c, nil
}

func boolVar(v, name string, bad func(string, string)) bool {
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		bad(name, "use 1 or 0 (true or false)")
	}
	return b
}

func durationVar(v string, def, least time.Duration, name string, bad func(string, string)) time.Duration {
	if v == "" {
		return def
	}
	d, err := app.ParseDuration(v)
	if err != nil || d < least {
		bad(name, fmt.Sprintf("a duration of at least %s, such as %s", least, app.FormatDuration(def)))
		return def
	}
	return d
}

// parseDays is app.ParseDuration that also reads whole or fractional
// days ("7d", "1.5d").
func parseDays(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(strings.ToLower(v), "d"); ok {
		days, err := strconv.ParseFloat(n, 64)
		if err != nil || days < 0 || days > 1000 {
			return 0, fmt.Errorf("%q is not a number of days", v)
		}
		return time.Duration(days * float64(24*time.Hour)), nil
	}
	return app.ParseDuration(v)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// validSlackID reports whether id looks like a Slack ID starting with one
// of the given letters.
func validSlackID(id, first string) bool {
	if len(id) < 2 || len(id) > 32 || !strings.ContainsRune(first, rune(id[0])) {
		return false
	}
	for _, r := range id {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// parseBytes reads a size as Redis's own configuration writes it: bytes,
// or a number with kb, mb or gb (powers of 1024, any case).
func parseBytes(v string) (int64, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"b", 1}} {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			v, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("bad size %q", v)
	}
	return n * mult, nil
}
