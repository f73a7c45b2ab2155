package drain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

var node = rollout.Node{ID: "web-3", Address: "10.0.0.5", Zone: "zone-a", Template: "tpl-7"}

func TestNone(t *testing.T) {
	if err := (None{}).Drain(t.Context(), node); err != nil {
		t.Fatal(err)
	}
}

func TestWithTimeoutNamesWhatBlocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		blocked := rollout.DrainerFunc(func(ctx context.Context, n rollout.Node) error {
			<-ctx.Done()
			return fmt.Errorf("waiting for pod web-1 to be evicted: %w", ctx.Err())
		})
		start := time.Now()
		err := WithTimeout(blocked, 5*time.Minute).Drain(t.Context(), node)
		if got := time.Since(start); got != 5*time.Minute {
			t.Errorf("virtual time advanced %s, want exactly 5m0s", got)
		}
		want := "drain of node web-3 timed out after 5m0s: waiting for pod web-1 to be evicted: context deadline exceeded"
		if err == nil || err.Error() != want {
			t.Fatalf("got %v\nwant %s", err, want)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("errors.Is(err, DeadlineExceeded) = false")
		}
	})
}

func TestWithTimeoutPassesThrough(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Finishing in time is success, and takes the drainer's time only.
		quick := rollout.DrainerFunc(func(ctx context.Context, n rollout.Node) error {
			time.Sleep(time.Minute)
			return nil
		})
		start := time.Now()
		if err := WithTimeout(quick, 5*time.Minute).Drain(t.Context(), node); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != time.Minute {
			t.Errorf("took %s, want 1m0s", got)
		}

		// A failure before the deadline is not called a timeout.
		boom := errors.New("webhook said no")
		failing := rollout.DrainerFunc(func(context.Context, rollout.Node) error { return boom })
		err := WithTimeout(failing, 5*time.Minute).Drain(t.Context(), node)
		if !errors.Is(err, boom) || err.Error() != "drain of node web-3: webhook said no" {
			t.Errorf("got %v, want %q", err, "drain of node web-3: webhook said no")
		}

		// The caller's own deadline is not the drain timeout.
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		blocked := rollout.DrainerFunc(func(ctx context.Context, n rollout.Node) error {
			<-ctx.Done()
			return ctx.Err()
		})
		err = WithTimeout(blocked, 5*time.Minute).Drain(ctx, node)
		if err == nil || strings.Contains(err.Error(), "timed out after") {
			t.Errorf("caller's deadline reported as the drain timeout: %v", err)
		}

		// No timeout: the drainer itself.
		if d := WithTimeout(failing, 0); fmt.Sprintf("%p", d) != fmt.Sprintf("%p", failing) {
			t.Errorf("WithTimeout(d, 0) wrapped d")
		}
	})
}

func TestTailBuffer(t *testing.T) {
	b := newTail(10)
	fmt.Fprint(b, "first line\n")
	fmt.Fprint(b, "second\nthird\n\n")
	if got, want := b.String(), "...nd\nthird"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := b.LastLine(); got != "third" {
		t.Errorf("LastLine() = %q, want third", got)
	}
	b = newTail(10)
	fmt.Fprint(b, "short")
	if got := b.String(); got != "short" {
		t.Errorf("String() = %q, want short (nothing dropped)", got)
	}
	fmt.Fprint(b, strings.Repeat("x", 100)+"END")
	if got := b.String(); got != "...xxxxxxxEND" || len(b.buf) != 10 {
		t.Errorf("String() = %q (buffer %d bytes), want the last 10 bytes", got, len(b.buf))
	}
}
