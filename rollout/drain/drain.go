// Package drain implements rollout.Drainer: None, Command (a program run
// per node, no shell) and Webhook (a JSON POST with bounded retries), and
// WithTimeout, which bounds any drainer and says what blocked it.
//
// Kubernetes drain (cordon, evict respecting PodDisruptionBudgets) is not
// here yet; a Command running kubectl covers it meanwhile.
package drain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// None drains nothing: the node is removed as soon as the engine decides.
type None struct{}

// Drain returns nil at once.
func (None) Drain(context.Context, rollout.Node) error { return nil }

// WithTimeout bounds d: its context ends timeout after Drain starts. When
// that is what stopped d, the error reads
//
//	drain of node web-3 timed out after 5m0s: <d's error>
//
// and d's error, returned once its context was cancelled, says what blocked
// it (a command's last output line, a webhook's last status). A timeout of
// 0 or less returns d unchanged.
func WithTimeout(d rollout.Drainer, timeout time.Duration) rollout.Drainer {
	if timeout <= 0 {
		return d
	}
	return &timeoutDrainer{d: d, timeout: timeout}
}

type timeoutDrainer struct {
	d       rollout.Drainer
	timeout time.Duration
}

// errTimedOut is the cause WithTimeout gives its context, so its own
// deadline is told apart from the caller's cancellation or deadline.
var errTimedOut = errors.New("drain timeout")

func (t *timeoutDrainer) Drain(ctx context.Context, n rollout.Node) error {
	dctx, cancel := context.WithTimeoutCause(ctx, t.timeout, errTimedOut)
	defer cancel()
	err := t.d.Drain(dctx, n)
	switch {
	case err == nil:
		return nil
	case errors.Is(context.Cause(dctx), errTimedOut):
		return fmt.Errorf("drain of node %s timed out after %s: %w", n.ID, t.timeout, err)
	}
	return fmt.Errorf("drain of node %s: %w", n.ID, err)
}

var (
	_ rollout.Drainer = None{}
	_ rollout.Drainer = (*timeoutDrainer)(nil)
)
