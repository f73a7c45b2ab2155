package asg

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/smithy-go/middleware"
)

// RequestLimiter paces API requests on the client side, so that pools in one
// account stay under the account's API buckets instead of draining them and
// being throttled. Share one limiter between the drivers of every pool in an
// account and Region (Options.Limiter): EC2 throttles per account and Region,
// not per client. Every attempt, retries included, takes a token.
//
// It is a token bucket: bursts of up to burst requests, then perSecond.
// Waiters are served in arrival order.
type RequestLimiter struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

// NewRequestLimiter returns a limiter of perSecond requests with bursts of
// burst (at least 1). For EC2, whose mutating APIs refill at 5 per second
// per API, 10 per second with a burst of 20 across all calls leaves the
// account's buckets room for everything else in it.
func NewRequestLimiter(perSecond float64, burst int) (*RequestLimiter, error) {
	if perSecond <= 0 || burst < 1 {
		return nil, fmt.Errorf("asg: request limiter %v per second, burst %d: want a positive rate and a burst of at least 1", perSecond, burst)
	}
	return &RequestLimiter{rate: perSecond, burst: float64(burst), tokens: float64(burst)}, nil
}

// Wait blocks until a request may be sent or ctx ends.
func (l *RequestLimiter) Wait(ctx context.Context) error {
	l.mu.Lock()
	now := time.Now()
	if !l.last.IsZero() {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	// Reserve a token now, even if that takes the bucket below zero: the
	// debt is the wait, and later callers queue behind it.
	l.tokens--
	wait := time.Duration(0)
	if l.tokens < 0 {
		wait = time.Duration(-l.tokens / l.rate * float64(time.Second))
	}
	l.mu.Unlock()
	if wait == 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		l.tokens++ // give the reservation back
		l.mu.Unlock()
		return ctx.Err()
	}
}

// middleware paces every attempt: it sits after the retry middleware in the
// finalize step, so retries wait for a token too.
func (l *RequestLimiter) apiOption(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("noderollRequestLimiter",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if err := l.Wait(ctx); err != nil {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("asg: waiting for the request limiter: %w", err)
			}
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}
