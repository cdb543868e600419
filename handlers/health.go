package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// health answers while the process runs.
func health() gin.HandlerFunc {
	return func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }
}

// ready answers 503 while Redis is unreachable, so a load balancer stops
// sending traffic this replica cannot record, and, in Socket Mode, while
// the replica has no connection to Slack (it cannot take commands or
// clicks; Slack gives them to the replicas that are connected).
func ready(store Pinger, socket SocketStatus) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			c.JSON(http.StatusServiceUnavailable, errorBody("redis unreachable"))
			return
		}
		if socket == nil {
			c.JSON(http.StatusOK, gin.H{"status": "ready"})
			return
		}
		if !socket.Connected() {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "error", "error": "slack socket mode not connected", "slack_socket_mode": "disconnected"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready", "slack_socket_mode": "connected"})
	}
}

// socketModeOn answers the HTTP Slack routes while Socket Mode carries
// Slack's requests: nothing is parsed, nothing changes.
func socketModeOn() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusNotFound, errorBody(
			"Socket Mode is on (SLACK_APP_TOKEN is set): Slack's requests arrive over slabot's own connection, not at this URL; "+
				"turn Socket Mode on in the Slack app (manifest.socket.yaml) or unset SLACK_APP_TOKEN"))
	}
}
