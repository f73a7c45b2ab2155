package rollout

import (
	"context"
	"fmt"
	"time"
)

// RetryPolicy decides whether, and after how long, a failed cloud call is
// repeated. attempt counts from 0 for the first failure.
type RetryPolicy func(attempt int, code ErrorCode, err error) (wait time.Duration, retry bool)

// DefaultRetry retries throttling, conflicts and unavailability up to 10
// times with exponential backoff from 500ms capped at 30s, and waits what the
// server asked for when it said (Retry-After). Other classes fail at once.
// No jitter: one engine drives one pool, and determinism keeps simulations
// reproducible; SDK retryers below add their own jitter.
func DefaultRetry(attempt int, code ErrorCode, err error) (time.Duration, bool) {
	if !code.Retryable() || attempt >= 10 {
		return 0, false
	}
	if ra := RetryAfterOf(err); ra > 0 {
		return ra, true
	}
	return min(500*time.Millisecond<<attempt, 30*time.Second), true
}

// call runs op with the executor's retry policy.
func call[T any](ctx context.Context, e *Executor, what string, op func(context.Context) (T, error)) (T, error) {
	for attempt := 0; ; attempt++ {
		v, err := op(ctx)
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil {
			return v, ctx.Err()
		}
		code := CodeOf(e.o.Driver, err)
		wait, retry := e.retry(attempt, code, err)
		if !retry {
			return v, fmt.Errorf("%s: %w", what, err)
		}
		e.emit(Event{Type: EventRetry, Message: fmt.Sprintf("%s failed (%s), retry %d in %s: %v", what, code, attempt+1, wait, err)})
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, ctx.Err()
		case <-t.C:
		}
	}
}
