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
// sending traffic this replica cannot record.
func ready(store Pinger) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			c.JSON(http.StatusServiceUnavailable, errorBody("redis unreachable"))
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	}
}
