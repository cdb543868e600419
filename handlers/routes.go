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
	r.GET(PathReady, ready(d.Store))
	r.POST(PathWebhook, webhook(d, reads, newQueueGate(d.Queues, d.QueueLimits, d.Clock, d.Logger)))
	if d.Metrics != nil {
		r.GET(PathMetrics, gin.WrapH(d.Metrics))
	}
	if d.Actions != nil && d.Records != nil {
		verified := verifySlack(d.Slack, reads, MaxSlackBody, d.Logger)
		r.POST(PathSlackCommands, verifySlack(d.Slack, reads, MaxSlackCommandBody, d.Logger), slashCommand(d))
		r.POST(PathSlackInteractions, verified, interaction(d, bg))
		r.POST(PathSlackEvents, verified, events(d, bg))
	}
}
