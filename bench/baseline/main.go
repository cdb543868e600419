// Command baseline is the yardstick of the load harness: the least a
// webhook receiver on gin and go-redis can do per event. It authenticates
// the request as slabot does, decodes the same metric event, and runs one
// Redis script that remembers the event ID (SET NX EX) and stores the
// value (HSET). slabot's figures are reported as ratios to this program's,
// measured in the same run on the same machine, because absolute numbers
// on shared machines drift.
//
// It reads PORT, REDIS_URL and GENESYS_WEBHOOK_TOKEN, like slabot.
package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// record remembers the event for 24 h and stores its value, or reports a
// duplicate; one round trip.
var record = redis.NewScript(`
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  return 1
end
return 0`)

type event struct {
	ID   string `json:"id"`
	Data struct {
		QueueID   string  `json:"queue_id"`
		QueueName string  `json:"queue_name"`
		Metric    string  `json:"metric"`
		Value     float64 `json:"value"`
		Unit      string  `json:"unit"`
	} `json:"data"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	opt, err := redis.ParseURL(getenv("REDIS_URL"))
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opt.DisableIdentity = true
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	token := []byte(getenv("GENESYS_WEBHOOK_TOKEN"))

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/readyz", func(c *gin.Context) {
		if err := rdb.Ping(c.Request.Context()).Err(); err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
		c.String(http.StatusOK, "ok")
	})
	r.POST("/webhook/genesys", func(c *gin.Context) {
		got, _ := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(got), token) != 1 {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"status": "error", "error": "authentication failed"})
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20))
		if err != nil {
			c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, gin.H{"status": "error", "error": "body too large"})
			return
		}
		var ev event
		if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || ev.Data.QueueID == "" {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"status": "error", "error": "bad event"})
			return
		}
		q := "{" + ev.Data.QueueID + "}"
		n, err := record.Run(c.Request.Context(), rdb, []string{"base:" + q + ":seen:" + ev.ID, "base:" + q + ":queue"},
			24*3600, ev.Data.Metric, ev.Data.Value).Int()
		if err != nil {
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"status": "error", "error": "state store unavailable"})
			return
		}
		status := "processed"
		if n == 0 {
			status = "duplicate"
		}
		c.JSON(http.StatusOK, gin.H{"status": status})
	})

	ln, err := net.Listen("tcp", "127.0.0.1:"+getenv("PORT"))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 15 * time.Second, IdleTimeout: 90 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
