package handlers

// /sla help: the usage lines in help order, and the notes after them.

import (
	"strings"

	"github.com/slabot/slabot/slackapi"
)

// usages are the usage lines, in help order, with an example each.
var usages = []struct{ verb, usage, example string }{
	{verbSet, "/sla set <queue>|default [<media>] <metric> <value>|target [clear <value>] [min <n>] [for <duration>]",
		`/sla set Support wait 5m clear 3m · /sla set "Billing EU" sl 80% clear 85% min 20 for 10m · /sla set default waiting 10`},
	{verbPreview, "/sla preview <queue>|default [<media>] <metric> <value>|target [clear <value>] [min <n>] [for <duration>]",
		`/sla preview Support wait 5m clear 3m (replays the last 7 days; changes nothing)`},
	{verbUnset, "/sla unset <queue>|default [<media>] [<metric>]", `/sla unset Support wait · /sla unset default email wait`},
	{verbList, "/sla list [<queue>] [page <n>]", `/sla list Support · /sla list page 2 (rules, snoozes, routes, hours)`},
	{verbStatus, "/sla status [<queue>|firing|acked|snoozed|pending] [page <n>]", `/sla status firing · /sla status page 2 (open alerts)`},
	{verbSnooze, "/sla snooze <queue>|all <duration>", `/sla snooze "Billing EU" 30m`},
	{verbUnsnooze, "/sla unsnooze <queue>|all", `/sla unsnooze all`},
	{verbAck, "/sla ack <queue>|all", `/sla ack Support · /sla ack all (every firing alert, in every channel)`},
	{verbRoute, "/sla route <queue> #channel|here|default", `/sla route Support here · /sla route Support <#C0123ABCD>`},
	{verbHistory, "/sla history [<queue>]", `/sla history Support`},
	{verbReport, "/sla report [7d|30d] [<queue>]", `/sla report · /sla report 30d "Billing EU" (breaches, time in breach, MTTA, MTTR per queue and media type)`},
	{verbChart, "/sla chart <queue> [<media>] [<metric>] [6h|24h|7d]",
		`/sla chart Support · /sla chart "Billing EU" chat sl 24h (a PNG, shared here; default: longest_wait over 6h)`},
	{verbHours, "/sla hours <queue>|default [<days> <from>-<to>… <IANA zone> | always | default]",
		`/sla hours default Mon-Fri 08:00-18:00 Europe/London · /sla hours "Night desk" always · /sla hours Support`},
	{verbHelp, "/sla help", `/sla help`},
}

// helpText is /sla help. restricted says SLA_ADMINS is set: the commands
// marked (admins) are then theirs alone.
func helpText(restricted bool) string {
	lines := []string{"*/sla: queue SLA alerts from Slack*"}
	for _, u := range usages {
		if u.verb == verbHelp {
			continue // the reader has it
		}
		lines = append(lines, "• `"+slackapi.Escape(u.usage)+"`"+adminMark(u.verb)+" — e.g. "+slackapi.Escape(u.example))
	}
	if restricted {
		lines = append(lines, "_(admins)_: only SLA admins (SLA_ADMINS) may run these; anyone may ack, snooze and resolve.")
	} else {
		lines = append(lines, "_(admins)_: SLA_ADMINS is not set, so everyone may run these too.")
	}
	lines = append(lines,
		"*Queues*: a name (any case; \"quote names with spaces\"), a queue ID, or `default` for the rule of every queue without its own.",
		"*Metrics*: `longest_wait` (`wait`), `waiting` (`queue`), `service_level` (`sl`), `agents` (`on_queue`), `abandon_rate` (`abandon`).",
		"*Values*: durations `5m`, `300s` or `300`; percentages `80` or `80%`; counts `10`. `for 2m` waits that long before alerting.",
		"*Clear*: `clear 3m` resolves only once the value is back at 3m (for `sl` and `agents`: above), so a hovering value alerts once.",
		"*Min*: `min 20` on `service_level` or `abandon_rate` ignores intervals with fewer than 20 offered interactions.",
		mediaHelp(),
		targetHelp(),
		"*Note*: without polling (Genesys API credentials) slabot cannot alert on `longest_wait`: notifications carry counts, not wait times.",
		"Alert buttons: Acknowledge stops reminders, Snooze mutes the queue, Resolve closes, Chart charts the breach. See also the App Home tab.",
		"*Business hours*: outside a queue's hours (else `default`'s) nothing fires; open alerts resolve quietly and re-arm at opening. "+
			"Days `Mon-Fri`, `Sat,Sun`, `daily`; hours `22:00-06:00`; an IANA zone.",
		"*Storms*: many alerts at once in one channel share one digest, kept up to date, with Acknowledge all and Snooze all.")
	return strings.Join(lines, "\n")
}
