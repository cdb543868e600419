package handlers

import "github.com/gin-gonic/gin"

// Route paths. manifest.yaml and app.json name the same paths; a test
// compares them.
const (
	PathWebhook = "/webhook/genesys"
	PathHealth  = "/healthz"
	PathReady   = "/readyz"
	PathMetrics = "/metrics"

	PathSlackCommands     = "/slack/commands"
	PathSlackInteractions = "/slack/interactions"
	PathSlackEvents       = "/slack/events"
)

func routes(r *gin.Engine, d Deps, bg *background, reads *bodyReads) {
	r.GET(PathHealth, health())
	r.GET(PathReady, ready(d.Store, d.SocketMode))
	r.POST(PathWebhook, webhook(d, reads, newQueueGate(d.Queues, d.QueueLimits, d.Clock, d.Logger)))
	if d.Metrics != nil {
		r.GET(PathMetrics, gin.WrapH(d.Metrics))
	}
	switch {
	case d.SocketMode != nil:
		// Registered all the same, so a Slack app still configured with
		// request URLs gets an answer that says what to change.
		for _, p := range []string{PathSlackCommands, PathSlackInteractions, PathSlackEvents} {
			r.POST(p, socketModeOn())
		}
	case d.Actions != nil && d.Records != nil:
		verified := verifySlack(d.Slack, reads, MaxSlackBody, d.Logger)
		core := newSlackCore(d, bg)
		r.POST(PathSlackCommands, verifySlack(d.Slack, reads, MaxSlackCommandBody, d.Logger), slashCommand(core))
		r.POST(PathSlackInteractions, verified, interaction(core))
		r.POST(PathSlackEvents, verified, events(core))
	}
}
