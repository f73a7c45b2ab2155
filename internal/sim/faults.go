package sim

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// Faults are what goes wrong in the simulated cloud's API. Each call's
// faults are drawn from a stream keyed by the call's kind and number, so a
// seed replays the same faults on the same calls.
type Faults struct {
	// Throttle turns on token buckets per call class, shaped like EC2's
	// published request limits ("Request throttling for the Amazon EC2 API",
	// EC2 developer guide): non-mutating calls (describe) share a bucket of
	// 100 tokens refilled at 20 per second; mutating calls (prepare,
	// use_template, resize, remove, create, delete) a bucket of 50 refilled
	// at 5 per second. A call finding its bucket empty fails Throttled with
	// RetryAfter set to the time until the next token.
	Throttle bool
	// DescribeBucket and MutateBucket override the buckets' shape.
	DescribeBucket, MutateBucket Bucket

	// ErrorRate is the chance (0..1) a call fails with a 5xx (Unavailable).
	// Nothing is changed by a failed call.
	ErrorRate float64
	// TimeoutRate is the chance a call hangs for Timeout (default 30 s) and
	// then fails Unavailable; TimeoutApplies is the chance that a mutating
	// call that timed out took effect anyway (its response was lost), which
	// is what makes retried calls need to be idempotent.
	TimeoutRate    float64
	Timeout        time.Duration
	TimeoutApplies float64

	// Appear delays a new node's first appearance in Describe; Linger keeps
	// a removed node showing its old state for a while. The group's desired
	// size is always read consistently. Zero: strongly consistent.
	Appear, Linger Dist

	// Fail, when set, is asked before each call with its kind (CallDescribe,
	// ...) and 1-based number for that kind; a non-nil error fails the call
	// unchanged.
	Fail func(call string, n int) error
}

// Bucket is a token bucket: Capacity tokens, refilled at Refill per second.
type Bucket struct {
	Capacity float64
	Refill   float64
}

var (
	ec2Describe = Bucket{Capacity: 100, Refill: 20}
	ec2Mutate   = Bucket{Capacity: 50, Refill: 5}
)

type bucket struct {
	Bucket
	tokens float64
	last   time.Time
}

// take spends a token at now, or returns how long until one is available.
func (b *bucket) take(now time.Time) time.Duration {
	if b.last.IsZero() {
		b.tokens = b.Capacity
	} else {
		b.tokens = min(b.Capacity, b.tokens+now.Sub(b.last).Seconds()*b.Refill)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / b.Refill * float64(time.Second))
}

func (c *Cloud) bucket(kind string) *bucket {
	class, shape := "mutate", c.o.Faults.MutateBucket
	if kind == CallDescribe {
		class, shape = "describe", c.o.Faults.DescribeBucket
	}
	b := c.buckets[class]
	if b == nil {
		if shape.Capacity <= 0 || shape.Refill <= 0 {
			shape = ec2Mutate
			if class == "describe" {
				shape = ec2Describe
			}
		}
		b = &bucket{Bucket: shape}
		c.buckets[class] = b
	}
	return b
}

// errTimeout is what a timed-out call returns, wrapped with the call.
var errTimeout = errors.New("request timed out")

// do runs one API call: counts it, draws its latency and faults, waits, and
// applies fn under the lock unless a fault stops it.
func (c *Cloud) do(ctx context.Context, kind string, fn func(now time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sim %s: %w", kind, err)
	}
	c.mu.Lock()
	c.calls[kind]++
	n := c.calls[kind]
	c.mu.Unlock()

	f := c.o.Faults
	var fault error
	if f.Fail != nil {
		if err := f.Fail(kind, n); err != nil {
			fault = fmt.Errorf("sim %s #%d: injected: %w", kind, n, err)
		}
	}

	c.mu.Lock()
	now := time.Now()
	r := stream(c.o.Seed, "call/"+kind, uint64(n))
	// Draw everything in a fixed order so that turning one fault on does
	// not shift the draws of another.
	latency := c.o.APILatency.Draw(r)
	pErr, pTimeout, pApply := r.Float64(), r.Float64(), r.Float64()
	var throttled time.Duration
	if fault == nil && f.Throttle {
		throttled = c.bucket(kind).take(now)
	}
	timeout, applies := false, false
	switch {
	case fault != nil:
		c.stats.Injected++
	case throttled > 0:
		fault = &rollout.Error{Code: rollout.Throttled, RetryAfter: throttled,
			Err: fmt.Errorf("sim %s #%d: RequestLimitExceeded", kind, n)}
		c.stats.Throttled++
	case pErr < f.ErrorRate:
		fault = rollout.Errorf(rollout.Unavailable, "sim %s #%d: 503 service unavailable", kind, n)
		c.stats.Errors++
	case pTimeout < f.TimeoutRate:
		timeout = true
		applies = kind != CallDescribe && pApply < f.TimeoutApplies
		c.stats.Timeouts++
		latency = f.Timeout
		if latency <= 0 {
			latency = 30 * time.Second
		}
	}
	c.mu.Unlock()

	if err := Sleep(ctx, latency); err != nil {
		return fmt.Errorf("sim %s #%d: %w", kind, n, err)
	}
	if fault != nil {
		return fault
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now = time.Now()
	if timeout {
		if applies {
			_ = fn(now) // the change happened; the caller never hears of it
			c.notify(now, kind)
		}
		return &rollout.Error{Code: rollout.Unavailable, Err: fmt.Errorf("sim %s #%d: %w", kind, n, errTimeout)}
	}
	err := fn(now)
	c.notify(now, kind)
	return err
}

// Sleep waits d or until ctx is done. In a synctest bubble the wait is
// virtual. Exported for code that drives the simulated cloud (the bench's
// naive baseline).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
