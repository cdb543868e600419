package handlers

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// Body limits. MaxBody is the webhook's (DESIGN §2.1). Slack sends much
// less: a slash command is a short form (MaxSlackCommandBody leaves ten
// times the room its text can take), and an interaction or App Home event
// carries the clicked message or the App Home view, whose blocks slabot
// writes itself within Slack's limits. The largest App Home slabot
// renders (60 queues whose names all escape) is about 124 KB as a
// form-encoded interaction payload: MaxSlackBody leaves twice that.
const (
	MaxBody             = 1 << 20
	MaxSlackBody        = 256 << 10
	MaxSlackCommandBody = 64 << 10
)

// Concurrent body reads. Bodies are read whole before they are decoded,
// so maxBodyReads × MaxBody bounds the memory that requests can hold; a
// request that finds every slot taken waits bodyWait for one, then
// answers 503 with Retry-After (Genesys, EventBridge and Slack retry).
const (
	defaultMaxBodyReads = 64
	defaultBodyWait     = time.Second
	retryAfterSeconds   = 1
)

// bodyReads limits how many request bodies are being read at once.
type bodyReads struct {
	slots chan struct{}
	wait  time.Duration
}

func newBodyReads(n int, wait time.Duration) *bodyReads {
	if n <= 0 {
		n = defaultMaxBodyReads
	}
	if wait <= 0 {
		wait = defaultBodyWait
	}
	return &bodyReads{slots: make(chan struct{}, n), wait: wait}
}

// errBusy means every body-read slot stayed taken for the whole wait.
var errBusy = errors.New("too many requests being read")

// errTooLarge means the body was over its limit.
var errTooLarge = errors.New("body too large")

// read reads c's body, at most limit bytes, holding a slot meanwhile. It
// fails with errBusy when no slot frees up in time, errTooLarge when the
// body is over limit, or the read error.
func (b *bodyReads) read(c *gin.Context, limit int64) ([]byte, error) {
	select {
	case b.slots <- struct{}{}:
	default:
		t := time.NewTimer(b.wait)
		select {
		case b.slots <- struct{}{}:
			t.Stop()
		case <-t.C:
			return nil, errBusy
		case <-c.Request.Context().Done():
			t.Stop()
			return nil, errBusy
		}
	}
	defer func() { <-b.slots }()
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, errTooLarge
	}
	return body, err
}

// abortRead answers a failed read: 503 with Retry-After, 413 naming the
// limit, or 400.
func abortRead(c *gin.Context, err error, limit int64) int {
	switch {
	case errors.Is(err, errBusy):
		c.Header("Retry-After", strconv.Itoa(retryAfterSeconds))
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, errorBody("busy reading other requests; retry later"))
		return http.StatusServiceUnavailable
	case errors.Is(err, errTooLarge):
		c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, errorBody("body larger than "+sizeLabel(limit)))
		return http.StatusRequestEntityTooLarge
	}
	c.AbortWithStatusJSON(http.StatusBadRequest, errorBody("cannot read body"))
	return http.StatusBadRequest
}

func sizeLabel(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
