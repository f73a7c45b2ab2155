package asg_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	fake "github.com/noderoll/terraform-provider-noderoll/internal/fakecloud/aws"
	"github.com/noderoll/terraform-provider-noderoll/providers/asg"
)

func TestRequestLimiterPaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := asg.NewRequestLimiter(10, 2)
		ok(t, err)
		ctx := context.Background()
		start := time.Now()
		var at []time.Duration
		for range 5 {
			ok(t, l.Wait(ctx))
			at = append(at, time.Since(start))
		}
		// A burst of 2 at once, then one every 100ms.
		want := []time.Duration{0, 0, 100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
		for i := range want {
			if at[i] != want[i] {
				t.Fatalf("request %d sent at %v, want %v (all: %v)", i, at[i], want[i], at)
			}
		}
		// A cancelled wait gives its reservation back.
		cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		defer cancel()
		if err := l.Wait(cctx); err == nil {
			t.Fatal("Wait with a 10ms deadline and a 100ms debt succeeded")
		}
		before := time.Now()
		ok(t, l.Wait(ctx))
		if got := time.Since(before); got != 90*time.Millisecond {
			t.Fatalf("next wait after a cancelled one = %v, want 90ms", got)
		}
	})
	if _, err := asg.NewRequestLimiter(0, 1); err == nil {
		t.Fatal("NewRequestLimiter(0, 1) succeeded")
	}
}

// A shared limiter under the fake's buckets: no request is throttled, even
// with SDK retries off, where the same calls unpaced are.
func TestRequestLimiterAvoidsThrottling(t *testing.T) {
	b := fake.Bucket{Size: 2, RefillPerSecond: 20}
	for _, paced := range []bool{false, true} {
		e := newEnv(t, fake.Options{Throttle: &fake.Limits{ASGDescribe: b}})
		o := e.options("web")
		if paced {
			l, err := asg.NewRequestLimiter(10, 2)
			ok(t, err)
			o.Limiter = l
		}
		o.Retry.MaxAttempts = 1
		d := e.driver(t, o)
		var failed int
		for range 10 {
			if _, err := d.Describe(context.Background()); err != nil && d.ErrorCode(err).String() == "throttled" {
				failed++
			}
		}
		if paced && failed != 0 {
			t.Errorf("with a limiter of 10/s under a 20/s bucket, %d of 10 Describes were throttled", failed)
		}
		if !paced && failed == 0 {
			t.Errorf("without a limiter, 10 back-to-back Describes under a 2-token bucket were never throttled: the test proves nothing")
		}
	}
}
