package genesys

import (
	"context"
	"errors"

	"github.com/slabot/slabot/app"
)

// ErrNoQueues means the OAuth client can see no queue at all, which almost
// always means its role is limited to divisions that hold none.
var ErrNoQueues = errors.New("genesys: the OAuth client sees no queues: grant its role routing:queue:view in the divisions that hold your queues")

// Check verifies, for `slabot setup`, everything polling needs: a token
// (ErrBadCredentials says which variables to fix), the queue list (its
// service-level targets are returned for display), and both analytics
// queries, probed with one queue. A *PermissionError names every missing
// permission at once. When only analytics permissions are missing, the
// queues are returned along with the error so setup can still show them.
func (c *Client) Check(ctx context.Context) ([]app.QueueInfo, error) {
	queues, err := c.Queues(ctx)
	if err != nil {
		return nil, err
	}
	if len(queues) == 0 {
		return nil, ErrNoQueues
	}
	probe := []string{queues[0].ID}
	var missing []string
	_, now, err := c.Observations(ctx, probe)
	if pe, ok := errors.AsType[*PermissionError](err); ok {
		missing = append(missing, pe.Missing...)
	} else if err != nil {
		return queues, err
	}
	if now.IsZero() {
		now = c.clock.Now()
	}
	_, err = c.ServiceLevels(ctx, probe, now)
	if pe, ok := errors.AsType[*PermissionError](err); ok {
		missing = append(missing, pe.Missing...)
	} else if err != nil {
		return queues, err
	}
	if len(missing) > 0 {
		return queues, &PermissionError{Missing: missing}
	}
	return queues, nil
}
