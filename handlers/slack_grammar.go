package handlers

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/slabot/slabot/app"
)

// The /sla grammar (DESIGN §3). Parsing is pure: it turns the command text
// into a command or a usage error, and never looks anything up.

// Subcommands, by canonical name.
const (
	verbHelp     = "help"
	verbSet      = "set"
	verbUnset    = "unset"
	verbList     = "list"
	verbStatus   = "status"
	verbSnooze   = "snooze"
	verbUnsnooze = "unsnooze"
	verbAck      = "ack"
	verbRoute    = "route"
	verbHistory  = "history"
	verbHours    = "hours"
	verbPreview  = "preview"
	verbReport   = "report"
	verbChart    = "chart"
)

// verbAliases maps what supervisors type to canonical subcommands.
var verbAliases = map[string]string{
	"help": verbHelp, "?": verbHelp, "-h": verbHelp, "--help": verbHelp,
	"set":   verbSet,
	"unset": verbUnset, "rm": verbUnset, "remove": verbUnset, "delete": verbUnset,
	"list": verbList, "ls": verbList, "thresholds": verbList,
	"status": verbStatus, "alerts": verbStatus,
	"snooze": verbSnooze, "mute": verbSnooze,
	"unsnooze": verbUnsnooze, "unmute": verbUnsnooze,
	"ack": verbAck, "acknowledge": verbAck,
	"route":   verbRoute,
	"history": verbHistory, "log": verbHistory,
	"hours": verbHours, "business-hours": verbHours,
	"preview": verbPreview, "whatif": verbPreview,
	"report": verbReport,
	"chart":  verbChart, "graph": verbChart, "plot": verbChart,
}

func usageOf(verb string) string {
	for _, u := range usages {
		if u.verb == verb {
			return u.usage
		}
	}
	return "/sla help"
}

// usageError is unparsable text: the answer is the subcommand's usage line
// and the reason; nothing changes.
type usageError struct {
	verb   string // canonical subcommand; "" when the subcommand is unknown
	reason string
	// unknown is the word typed as a subcommand that is none.
	unknown string
}

func (e *usageError) Error() string { return e.reason }

func usagef(verb, format string, args ...any) *usageError {
	return &usageError{verb: verb, reason: fmt.Sprintf(format, args...)}
}

// token is one word of the command text.
type token struct {
	text string // unquoted, with Slack's &amp; &lt; &gt; decoded
	// quoted is set for "…" (or “…”) tokens: never a keyword.
	quoted bool
	// ref is set for Slack's <…> references (<#C123|name>, <@U123>).
	ref bool
}

// keyword reports whether t is the unquoted keyword k, in any case.
func (t token) keyword(k string) bool { return !t.quoted && !t.ref && strings.EqualFold(t.text, k) }

var slackEntities = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

func isOpenQuote(r rune) bool  { return r == '"' || r == '“' || r == '”' || r == '„' }
func isCloseQuote(r rune) bool { return r == '"' || r == '“' || r == '”' }

// maxTokens bounds the work one command can cause.
const maxTokens = 64

// tokenize splits the command text on white space. Double quotes, straight
// or typographic (macOS and phones turn " into “ ”), group words; Slack's
// <…> references stay whole.
func tokenize(s string) ([]token, error) {
	var toks []token
	rs := []rune(s)
	for i := 0; i < len(rs); {
		if len(toks) >= maxTokens {
			return nil, errors.New("too many words")
		}
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
			continue
		case isOpenQuote(r):
			j := i + 1
			for j < len(rs) && !isCloseQuote(rs[j]) {
				j++
			}
			if j == len(rs) {
				return nil, errors.New("a quote is not closed")
			}
			toks = append(toks, token{text: slackEntities.Replace(string(rs[i+1 : j])), quoted: true})
			i = j + 1
		case r == '<':
			j := i + 1
			for j < len(rs) && rs[j] != '>' && !unicode.IsSpace(rs[j]) {
				j++
			}
			if j < len(rs) && rs[j] == '>' {
				toks = append(toks, token{text: string(rs[i+1 : j]), ref: true})
				i = j + 1
				continue
			}
			fallthrough
		default:
			j := i
			for j < len(rs) && !unicode.IsSpace(rs[j]) {
				j++
			}
			toks = append(toks, token{text: slackEntities.Replace(string(rs[i:j]))})
			i = j
		}
	}
	return toks, nil
}

// queueArg is a queue as typed. Unquoted words may make up a name with
// spaces where the grammar leaves no doubt (set, snooze, ack…).
type queueArg struct {
	text   string
	quoted bool
}

func (q queueArg) keyword(k string) bool { return !q.quoted && strings.EqualFold(q.text, k) }

// channelArg is the target of /sla route.
type channelArg struct {
	id    string // a channel ID
	name  string // a bare #name, resolvable only as the current channel
	here  bool   // "here": the channel the command was typed in
	clear bool   // "default": back to SLACK_CHANNEL_ID
}

// command is a parsed /sla command.
type command struct {
	verb string
	// typed is the command text as typed (set by the caller, not the
	// parser), for answers that show it back changed: the same command
	// naming the queue by its ID.
	typed string
	queue queueArg
	// media is the rule's media type (app.Voice…), "" for every one;
	// for /sla chart, the chart's ("" when not given).
	media  string
	metric app.Metric
	// target is set for the value "target": the queue's own Genesys
	// target for the media type (service_level, longest_wait).
	target bool
	value  float64
	forDur time.Duration
	// clear (when hasClear) and minVolume are set's optional clauses.
	clear     float64
	hasClear  bool
	minVolume float64
	dur       time.Duration
	channel   channelArg
	// hours is /sla hours' spec as typed ("Mon-Fri 08:00-18:00
	// Europe/London" or "always"), checked by app.ParseHours; hoursShow
	// asks for the queue's hours, hoursInherit removes its own.
	hours        string
	hoursShow    bool
	hoursInherit bool
	// page is the page of /sla list or /sla status asked for (0: the
	// first), and state the alert state /sla status is filtered on
	// (alertFiring…; "" for all).
	page  int
	state string
	// period is /sla report's span (7 or 30 days), or /sla chart's
	// window (6 h, 24 h or 7 days).
	period time.Duration
}

// parseCommand parses the text after /sla. On error the command still
// carries its verb, so the caller can check permissions before showing
// the usage.
func parseCommand(text string) (command, error) {
	toks, err := tokenize(text)
	if len(toks) == 0 && err == nil {
		return command{verb: verbHelp}, nil
	}
	if err != nil {
		verb := ""
		if f := strings.Fields(text); len(f) > 0 {
			verb = verbAliases[strings.ToLower(f[0])]
		}
		return command{verb: verb}, &usageError{verb: verb, reason: err.Error()}
	}
	verb, ok := verbAliases[strings.ToLower(toks[0].text)]
	if !ok || toks[0].quoted || toks[0].ref {
		return command{}, &usageError{reason: fmt.Sprintf("unknown subcommand '%s'", clipArg(toks[0].text)), unknown: toks[0].text}
	}
	c := command{verb: verb}
	args := toks[1:]
	switch verb {
	case verbHelp:
		return c, nil
	case verbList, verbStatus:
		return c, c.parseListing(args)
	case verbSet, verbPreview:
		return c, c.parseRule(verb, args)
	case verbUnset:
		return c, c.parseUnset(args)
	case verbSnooze:
		if err := spelledDuration(verb, args); err != nil {
			return c, err
		}
		if len(args) < 2 {
			return c, usagef(verb, "give a queue (or all) and a duration")
		}
		d, err := app.ParseDuration(args[len(args)-1].text)
		if err != nil {
			return c, &usageError{verb: verb, reason: reasonOf(err)}
		}
		if err := checkSnoozeLength(d, args[len(args)-1].text); err != nil {
			return c, err
		}
		c.dur = d
		c.queue, err = joinQueue(verb, args[:len(args)-1])
		return c, err
	case verbUnsnooze, verbAck:
		c.queue, err = joinQueue(verb, args)
		return c, err
	case verbHistory:
		if len(args) > 0 {
			c.queue, err = joinQueue(verb, args)
		}
		return c, err
	case verbHours:
		return c, c.parseHours(args)
	case verbReport:
		c.period = 7 * 24 * time.Hour
		if len(args) > 0 && !args[0].quoted {
			if d, ok := reportPeriods[strings.ToLower(args[0].text)]; ok {
				c.period, args = d, args[1:]
			} else if looksLikeSpan(args[0].text) && len(args) == 1 {
				return c, usagef(verb, "a report covers 7d or 30d")
			}
		}
		if len(args) > 0 {
			c.queue, err = joinQueue(verb, args)
		}
		return c, err
	case verbChart:
		return c, c.parseChart(args)
	case verbRoute:
		if len(args) < 2 {
			return c, usagef(verb, "give a queue and a channel")
		}
		if c.channel, err = parseChannel(args[len(args)-1]); err != nil {
			return c, err
		}
		c.queue, err = joinQueue(verb, args[:len(args)-1])
		return c, err
	}
	return c, usagef("", "unknown subcommand '%s'", clipArg(toks[0].text))
}

// stateWords are the alert states /sla status filters on, as typed.
var stateWords = map[string]string{
	"firing": alertFiring,
	"acked":  alertAcked, "ack": alertAcked, "acknowledged": alertAcked,
	"snoozed": alertSnoozed, "muted": alertSnoozed,
	"pending": alertPending,
}

// The states of an open alert, as /sla status and the App Home show them.
const (
	alertFiring  = "firing"
	alertAcked   = "acknowledged"
	alertSnoozed = "snoozed"
	alertPending = "pending"
)

// maxPage bounds the page number anyone may ask for.
const maxPage = 1000

// parseListing reads [<queue>|<state>] [page <n>] for list and status,
// right to left: "page" and a number at the end are the page, then a
// state word (status only, unquoted) or the rest is the queue.
func (c *command) parseListing(args []token) error {
	if n := len(args); n > 0 && args[n-1].keyword("page") {
		return usagef(c.verb, "give a page number after page, e.g. /sla %s page 2", c.verb)
	}
	if n := len(args); n >= 2 && args[n-2].keyword("page") {
		p, err := strconv.Atoi(args[n-1].text)
		if err != nil || p < 1 || p > maxPage || args[n-1].quoted {
			return usagef(c.verb, "'%s' is not a page number; pages count from 1, e.g. /sla %s page 2", clipArg(args[n-1].text), c.verb)
		}
		c.page, args = p, args[:n-2]
	}
	if len(args) == 0 {
		return nil
	}
	if c.verb == verbStatus && len(args) == 1 && !args[0].quoted && !args[0].ref {
		if st, ok := stateWords[strings.ToLower(args[0].text)]; ok {
			c.state = st
			return nil
		}
	}
	var err error
	c.queue, err = joinQueue(c.verb, args)
	return err
}

// reportPeriods are the spans /sla report takes.
var reportPeriods = map[string]time.Duration{"7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}

// chartWindows are the windows /sla chart draws, and chartDefault the
// one it draws when none is given.
var chartWindows = map[string]time.Duration{"6h": 6 * time.Hour, "24h": 24 * time.Hour, "1d": 24 * time.Hour, "7d": 7 * 24 * time.Hour}

const chartDefault = 6 * time.Hour

// parseChart reads <queue> [<media>] [<metric>] [6h|24h|7d] right to
// left, so that an unquoted name with spaces still parses: a window, a
// metric and a media type are taken from the end when they are there,
// the rest is the queue.
func (c *command) parseChart(args []token) error {
	c.metric, c.period = app.LongestWait, chartDefault
	if n := len(args); n > 0 && !args[n-1].quoted {
		w := strings.ToLower(args[n-1].text)
		if d, ok := chartWindows[w]; ok {
			c.period, args = d, args[:n-1]
		} else if _, err := app.ParseDuration(w); err == nil && n > 1 {
			return usagef(verbChart, "a chart covers 6h, 24h or 7d")
		}
	}
	if n := len(args); n > 1 && !args[n-1].quoted {
		if m, err := app.ParseMetric(args[n-1].text); err == nil {
			c.metric, args = m, args[:n-1]
		}
	}
	if n := len(args); n > 1 && !args[n-1].quoted && app.IsMedia(args[n-1].text) {
		c.media, _ = app.ParseMedia(args[n-1].text)
		args = args[:n-1]
	}
	var err error
	c.queue, err = joinQueue(verbChart, args)
	return err
}

// looksLikeSpan reports whether s is a span of days or weeks ("12d",
// "2w") rather than a queue name.
func looksLikeSpan(s string) bool {
	n := strings.TrimRight(strings.ToLower(s), "dw")
	return len(n) > 0 && len(n) == len(s)-1 && strings.Trim(n, "0123456789") == ""
}

// setClauses are the optional clauses of /sla set, each a keyword and a
// value, in any order after the value.
var setClauses = []string{"clear", "min", "for"}

// parseRule reads <queue> <metric> <value> [clear <value>] [min <n>]
// [for <duration>] for set and preview, right to left, so that an unquoted
// name with spaces still parses: trailing keyword-value pairs are the
// clauses, then come the value, the metric, and the rest is the queue.
func (c *command) parseRule(verb string, args []token) error {
	if err := spelledDuration(verb, args); err != nil {
		return err
	}
	clauses := make(map[string]string, len(setClauses))
	for {
		n := len(args)
		if n > 0 && isClause(args[n-1]) {
			return usagef(verb, "%s", clauseHint(args[n-1].text))
		}
		if n < 2 || !isClause(args[n-2]) {
			break
		}
		k := strings.ToLower(args[n-2].text)
		if _, dup := clauses[k]; dup {
			return usagef(verb, "%s is given twice", k)
		}
		clauses[k] = args[n-1].text
		args = args[:n-2]
	}
	n := len(args)
	if n < 3 {
		return usagef(verb, "give a queue, a metric and a value")
	}
	m, err := app.ParseMetric(args[n-2].text)
	if err != nil {
		return &usageError{verb: verb, reason: reasonOf(err)}
	}
	c.metric = m
	if args[n-1].keyword("target") {
		if m != app.ServiceLevel && m != app.LongestWait {
			return usagef(verb, "target applies to service_level and longest_wait only (the queue's own target in Genesys Cloud); give %s a value", m)
		}
		c.target = true
	} else if c.value, err = m.ParseValue(args[n-1].text); err != nil {
		return &usageError{verb: verb, reason: reasonOf(err)}
	}
	queue := args[:n-2]
	// An optional media type before the metric; one word at least is left
	// for the queue, so a queue named "Email" still reads as a queue.
	if k := len(queue); k >= 2 && !queue[k-1].quoted && !queue[k-1].ref {
		if media, ok := mediaWord(queue[k-1].text); ok {
			c.media, queue = media, queue[:k-1]
		} else if k == 2 && queue[0].keyword(app.DefaultQueue) {
			return usagef(verb, "'%s' is not a media type (use voice|call, chat, callback, email, message)", clipArg(queue[1].text))
		}
	}
	if s, ok := clauses["for"]; ok {
		if c.forDur, err = app.ParseDuration(s); err != nil {
			return &usageError{verb: verb, reason: "for " + reasonOf(err)}
		}
	}
	if s, ok := clauses["clear"]; ok {
		if c.clear, err = m.ParseValue(s); err != nil {
			return &usageError{verb: verb, reason: "clear " + reasonOf(err)}
		}
		c.hasClear = true
	}
	if s, ok := clauses["min"]; ok {
		if c.minVolume, err = app.Waiting.ParseValue(s); err != nil || c.minVolume < 1 {
			return usagef(verb, "min takes a whole number of offered interactions, e.g. min 20")
		}
	}
	if err := c.threshold("").Validate(); err != nil {
		return &usageError{verb: verb, reason: reasonOf(err)}
	}
	c.queue, err = joinQueue(verb, queue)
	return err
}

// mediaWord reads a media type as typed ("call" is voice).
func mediaWord(s string) (string, bool) {
	m, err := app.ParseMedia(s)
	return m, err == nil
}

func isClause(t token) bool {
	for _, k := range setClauses {
		if t.keyword(k) {
			return true
		}
	}
	return false
}

func clauseHint(k string) string {
	switch strings.ToLower(k) {
	case "clear":
		return "give a value after clear, e.g. clear 3m"
	case "min":
		return "give a value after min, e.g. min 20"
	}
	return "give a duration after for, e.g. for 2m"
}

// threshold is the rule a parsed set command describes, for queueID.
func (c command) threshold(queueID string) app.Threshold {
	t := app.Threshold{QueueID: queueID, MediaType: c.media, Metric: c.metric, Value: c.value, Target: c.target,
		MinVolume: c.minVolume, For: c.forDur}
	if c.hasClear {
		clear := c.clear
		t.Clear = &clear
	}
	return t
}

// parseUnset reads <queue> [<media>] [<metric>]. A name with spaces must
// be quoted here: "Support Queue" would otherwise read as Support's
// waiting rule.
func (c *command) parseUnset(args []token) error {
	if len(args) == 0 {
		return usagef(verbUnset, "give a queue")
	}
	if len(args) > 3 {
		return usagef(verbUnset, "too many words; quote queue names with spaces, e.g. /sla unset \"Billing EU\" wait")
	}
	c.queue = queueArg{text: args[0].text, quoted: args[0].quoted}
	rest := args[1:]
	if len(rest) > 0 && !rest[0].quoted {
		if media, ok := mediaWord(rest[0].text); ok {
			c.media, rest = media, rest[1:]
		}
	}
	switch {
	case len(rest) == 1:
		m, err := app.ParseMetric(rest[0].text)
		if err != nil {
			if c.media == "" && len(args) == 2 {
				return usagef(verbUnset, "'%s' is not a metric or a media type (voice|call, chat, callback, email, message); quote queue names with spaces, e.g. /sla unset \"Billing EU\"", clipArg(rest[0].text))
			}
			return usagef(verbUnset, "'%s' is not a metric; quote queue names with spaces, e.g. /sla unset \"Billing EU\" email wait", clipArg(rest[0].text))
		}
		c.metric = m
	case len(rest) > 1:
		return usagef(verbUnset, "too many words, or '%s' is not a media type (voice|call, chat, callback, email, message); quote queue names with spaces, e.g. /sla unset \"Billing EU\" email wait", clipArg(rest[0].text))
	}
	return validQueueText(verbUnset, c.queue)
}

// joinQueue makes one queue argument of args: a single (maybe quoted)
// token, or unquoted words joined by spaces.
func joinQueue(verb string, args []token) (queueArg, error) {
	switch {
	case len(args) == 0:
		return queueArg{}, usagef(verb, "give a queue")
	case len(args) == 1:
		q := queueArg{text: args[0].text, quoted: args[0].quoted}
		return q, validQueueText(verb, q)
	}
	words := make([]string, len(args))
	for i, a := range args {
		if a.quoted || a.ref {
			return queueArg{}, usagef(verb, "put the whole queue name in quotes, e.g. \"Billing EU\"")
		}
		words[i] = a.text
	}
	q := queueArg{text: strings.Join(words, " ")}
	return q, validQueueText(verb, q)
}

func validQueueText(verb string, q queueArg) error {
	if strings.TrimSpace(q.text) == "" {
		return usagef(verb, "the queue name is empty")
	}
	return nil
}

// parseChannel reads a route target: Slack's <#C123|name> or <#C123>, a
// raw channel ID, #name, here, or default.
func parseChannel(t token) (channelArg, error) {
	switch {
	case t.ref:
		id, ok := strings.CutPrefix(t.text, "#")
		id, _, _ = strings.Cut(id, "|")
		if !ok || !validChannelID(id) {
			return channelArg{}, usagef(verbRoute, "'%s' is not a channel", clipArg(t.text))
		}
		return channelArg{id: id}, nil
	case t.keyword("here") || t.keyword("this"):
		return channelArg{here: true}, nil
	case t.keyword("default") || t.keyword("none") || t.keyword("off"):
		return channelArg{clear: true}, nil
	case !t.quoted && strings.HasPrefix(t.text, "#") && len(t.text) > 1:
		return channelArg{name: strings.ToLower(t.text[1:])}, nil
	case !t.quoted && validChannelID(t.text):
		return channelArg{id: t.text}, nil
	}
	return channelArg{}, usagef(verbRoute, "'%s' is not a channel; use #channel, a channel ID (C…), here or default", clipArg(t.text))
}

// validChannelID accepts public (C…) and private (G…) channel IDs; alerts
// never go to direct messages.
func validChannelID(id string) bool {
	if len(id) < 9 || len(id) > 20 || (id[0] != 'C' && id[0] != 'G') {
		return false
	}
	for _, r := range id {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// reasonOf is an app error's text without the "bad threshold: " prefix,
// which says nothing to a supervisor.
func reasonOf(err error) string {
	s := err.Error()
	if rest, ok := strings.CutPrefix(s, app.ErrBadThreshold.Error()+": "); ok {
		return rest
	}
	return s
}

// clipArg shortens user input quoted back in an answer.
func clipArg(s string) string {
	if r := []rune(s); len(r) > 60 {
		return string(r[:59]) + "…"
	}
	return s
}
