package rollout_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// fastStrategy keeps scenarios short in virtual time.
func fastStrategy() rollout.Strategy {
	s := rollout.DefaultStrategy()
	s.ProbeInterval = time.Second
	s.MinReady = 2 * time.Second
	s.NodeDeadline = time.Minute
	return s
}

type harness struct {
	t      *testing.T
	d      *memDriver
	s      rollout.Strategy
	events []rollout.Event
	start  time.Time
	size   int
	// floor is checked on every event once the pool was healthy.
	checkFloor bool
}

func newHarness(t *testing.T, s rollout.Strategy, size int) *harness {
	d := newMemDriver(t, 20*time.Second)
	b := s.Resolve(size)
	d.maxNodes = size + b.Surge
	return &harness{t: t, d: d, s: s, start: time.Now(), size: size}
}

func (h *harness) executor(drainer rollout.Drainer) *rollout.Executor {
	e, err := rollout.New(rollout.Options{Driver: h.d, Strategy: h.s, Prober: h.d.prober(), Drainer: drainer, OnEvent: h.onEvent})
	if err != nil {
		h.t.Fatal(err)
	}
	return e
}

func (h *harness) onEvent(ev rollout.Event) {
	h.events = append(h.events, ev)
	if !h.checkFloor {
		return
	}
	healthy, _, _ := h.d.healthy()
	if floor := h.size - h.s.Resolve(h.size).Unavailable; healthy < floor {
		h.t.Errorf("invariant: %d healthy nodes at %q, want at least %d", healthy, ev, floor)
	}
}

func (h *harness) apply(ctx context.Context, image string, drainer rollout.Drainer) (rollout.Report, error) {
	return h.executor(drainer).Apply(ctx, rollout.Spec{Size: h.size, Image: image, MachineType: "small"})
}

// assertConverged checks the end state: exactly size nodes, one template.
func (h *harness) assertConverged(image string) {
	h.t.Helper()
	healthy, total, tpls := h.d.healthy()
	want := "tpl-" + image + "-small"
	if total != h.size || healthy != h.size || tpls[want] != h.size || len(tpls) != 1 {
		h.t.Fatalf("pool = %d nodes (%d healthy) on %v, want %d healthy on %s", total, healthy, tpls, h.size, want)
	}
	if h.d.group.ID != want || h.d.origin != "" {
		h.t.Fatalf("group on %q origin %q, want %s with no origin", h.d.group.ID, h.d.origin, want)
	}
}

func (h *harness) narrative() string {
	var b strings.Builder
	for _, ev := range h.events {
		fmt.Fprintf(&b, "%6s %s\n", ev.Time.Sub(h.start).Round(time.Millisecond), ev)
	}
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./rollout -run %s -update to create it)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("narrative differs from %s (rerun with -update if the change is intended):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestApplyCreatesPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, fastStrategy(), 4)
		rep, err := h.apply(t.Context(), "v1", nil)
		if err != nil {
			t.Fatal(err)
		}
		h.assertConverged("v1")
		if rep.Outcome != rollout.OutcomeConverged || rep.Added != 4 || rep.Replaced != 0 {
			t.Fatalf("report = %+v", rep)
		}
		// 20s boot, a second passing probe at 21s, then 2s of min_ready.
		if d := rep.Duration(); d != 23*time.Second {
			t.Fatalf("create took %s of virtual time, want 23s", d)
		}
	})
}

func TestApplyRollsWithinBudgets(t *testing.T) {
	for _, tc := range []struct{ surge, unavail string }{{"1", "0"}, {"25%", "0"}, {"0", "1"}, {"50%", "25%"}, {"100%", "0"}} {
		t.Run(tc.surge+"/"+tc.unavail, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := fastStrategy()
				s.MaxSurge, s.MaxUnavailable = mustParse(t, tc.surge), mustParse(t, tc.unavail)
				h := newHarness(t, s, 4)
				if _, err := h.apply(t.Context(), "v1", nil); err != nil {
					t.Fatal(err)
				}
				h.checkFloor = true
				rep, err := h.apply(t.Context(), "v2", nil)
				if err != nil {
					t.Fatal(err)
				}
				h.assertConverged("v2")
				if rep.Replaced != 4 || rep.From != "tpl-v1-small" || rep.To != "tpl-v2-small" {
					t.Fatalf("report = %+v", rep)
				}
				if floor := 4 - s.Resolve(4).Unavailable; rep.LowestHealthy < floor {
					t.Fatalf("lowest healthy %d, floor %d", rep.LowestHealthy, floor)
				}
			})
		})
	}
}

func TestApplyNarrativeGolden(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, fastStrategy(), 3)
		if _, err := h.apply(t.Context(), "v1", nil); err != nil {
			t.Fatal(err)
		}
		h.events, h.start = nil, time.Now()
		drain := rollout.DrainerFunc(func(ctx context.Context, n rollout.Node) error { time.Sleep(5 * time.Second); return nil })
		if _, err := h.apply(t.Context(), "v2", drain); err != nil {
			t.Fatal(err)
		}
		golden(t, "roll3", h.narrative())
	})
}

func TestApplyRollsBackUnhealthyImage(t *testing.T) {
	for _, mode := range []string{"unhealthy", "crash"} {
		t.Run(mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, fastStrategy(), 4)
				if _, err := h.apply(t.Context(), "v1", nil); err != nil {
					t.Fatal(err)
				}
				h.d.broken["v3"] = mode
				h.checkFloor = true
				rep, err := h.apply(t.Context(), "v3", nil)
				var re *rollout.RolloutError
				if !errors.As(err, &re) || rep.Outcome != rollout.OutcomeRolledBack {
					t.Fatalf("Apply = %v, outcome %s; want a rolled back RolloutError", err, rep.Outcome)
				}
				h.assertConverged("v1")
				if len(rep.Failures) == 0 {
					t.Fatal("report names no failed node")
				}
				want := map[string]string{"unhealthy": "status 500", "crash": "exited with status 1"}[mode]
				if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "rolled back to tpl-v1-small") {
					t.Fatalf("error does not explain the failure:\n%v", err)
				}
			})
		})
	}
}

func TestApplyHaltLeavesPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := fastStrategy()
		s.OnFailure = rollout.Halt
		h := newHarness(t, s, 4)
		if _, err := h.apply(t.Context(), "v1", nil); err != nil {
			t.Fatal(err)
		}
		h.d.broken["v3"] = "unhealthy"
		rep, err := h.apply(t.Context(), "v3", nil)
		if err == nil || rep.Outcome != rollout.OutcomeHalted {
			t.Fatalf("Apply = %v, %s; want halted", err, rep.Outcome)
		}
		healthy, total, tpls := h.d.healthy()
		if healthy != 4 || total != 5 || tpls["tpl-v3-small"] != 1 {
			t.Fatalf("halt changed the pool: %d healthy of %d on %v; want the 4 old nodes and the failed new one left as they are", healthy, total, tpls)
		}
		if h.d.origin != "tpl-v1-small" {
			t.Fatalf("origin mark = %q, want tpl-v1-small so a later run can still roll back", h.d.origin)
		}
	})
}

func TestApplyScalesWithoutRollout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, fastStrategy(), 4)
		if _, err := h.apply(t.Context(), "v1", nil); err != nil {
			t.Fatal(err)
		}
		h.size = 6
		h.d.maxNodes = 0 // growing is not bounded by surge
		rep, err := h.apply(t.Context(), "v1", nil)
		if err != nil || rep.Replaced != 0 || rep.Added != 2 {
			t.Fatalf("scale up = %+v, %v", rep, err)
		}
		h.assertConverged("v1")
		h.size = 2
		rep, err = h.apply(t.Context(), "v1", nil)
		if err != nil || rep.Replaced != 0 || rep.Removed != 4 {
			t.Fatalf("scale down = %+v, %v", rep, err)
		}
		h.assertConverged("v1")
	})
}

func TestApplyCanaryAndPauses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := fastStrategy()
		s.CanaryCount, s.CanarySoak, s.PauseBetweenWaves = 1, time.Minute, 30*time.Second
		s.MaxSurge = rollout.Count(2)
		h := newHarness(t, s, 5)
		if _, err := h.apply(t.Context(), "v1", nil); err != nil {
			t.Fatal(err)
		}
		h.checkFloor = true
		rep, err := h.apply(t.Context(), "v2", nil)
		if err != nil {
			t.Fatal(err)
		}
		h.assertConverged("v2")
		var pauses []string
		for _, ev := range h.events {
			if ev.Type == rollout.EventPaused {
				pauses = append(pauses, ev.Message)
			}
		}
		// canary (1), then waves of 2: 1 + 2 + 2 = 5; pauses after canary and after wave 1.
		if len(pauses) != 2 || !strings.Contains(pauses[0], "canary") || rep.Waves != 3 {
			t.Fatalf("pauses = %q, waves = %d; want a canary soak and one pause between 3 waves", pauses, rep.Waves)
		}
		if rep.Duration() < time.Minute+30*time.Second {
			t.Fatalf("rollout took %s, shorter than the soak plus the pause", rep.Duration())
		}
	})
}

func TestApplyDrainTimeoutFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := fastStrategy()
		s.DrainTimeout = 30 * time.Second
		h := newHarness(t, s, 3)
		if _, err := h.apply(t.Context(), "v1", nil); err != nil {
			t.Fatal(err)
		}
		stuck := rollout.DrainerFunc(func(ctx context.Context, n rollout.Node) error {
			if n.Template == "tpl-v1-small" {
				<-ctx.Done()
				return fmt.Errorf("pod web-1 blocked by PodDisruptionBudget web: %w", ctx.Err())
			}
			return nil
		})
		rep, err := h.apply(t.Context(), "v2", stuck)
		if err == nil || rep.Outcome != rollout.OutcomeRolledBack {
			t.Fatalf("Apply = %v, %s; want rolled back", err, rep.Outcome)
		}
		if !strings.Contains(err.Error(), "timed out after 30s") || !strings.Contains(err.Error(), "PodDisruptionBudget web") {
			t.Fatalf("error does not say what blocked the drain:\n%v", err)
		}
		h.assertConverged("v1")
	})
}

// TestResumeAfterInterruptAtEveryStep cancels a rollout at every event index
// and checks that a fresh executor converges with the invariants held.
func TestResumeAfterInterruptAtEveryStep(t *testing.T) {
	steps := 0
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, fastStrategy(), 3)
		if _, err := h.apply(t.Context(), "v1", nil); err != nil {
			t.Fatal(err)
		}
		h.events = nil
		if _, err := h.apply(t.Context(), "v2", nil); err != nil {
			t.Fatal(err)
		}
		steps = len(h.events)
	})
	for k := 1; k < steps; k++ {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t, fastStrategy(), 3)
			if _, err := h.apply(t.Context(), "v1", nil); err != nil {
				t.Fatal(err)
			}
			h.checkFloor = true
			ctx, cancel := context.WithCancel(t.Context())
			n := 0
			e, _ := rollout.New(rollout.Options{Driver: h.d, Strategy: h.s, Prober: h.d.prober(), OnEvent: func(ev rollout.Event) {
				h.onEvent(ev)
				if n++; n == k {
					cancel()
				}
			}})
			rep, err := e.Apply(ctx, rollout.Spec{Size: 3, Image: "v2", MachineType: "small"})
			if err == nil && rep.Outcome != rollout.OutcomeConverged {
				t.Fatalf("step %d: %v %s", k, err, rep.Outcome)
			}
			if rep.Outcome != rollout.OutcomeInterrupted && rep.Outcome != rollout.OutcomeConverged {
				t.Fatalf("step %d: outcome %s, want interrupted", k, rep.Outcome)
			}
			if _, err := h.apply(t.Context(), "v2", nil); err != nil {
				t.Fatalf("step %d: resume: %v", k, err)
			}
			h.assertConverged("v2")
		})
	}
	if steps < 10 {
		t.Fatalf("only %d steps observed", steps)
	}
}

// TestResumeRollsBackToRecordedOrigin: a run interrupted mid-rollout, then a
// run that fails, must roll back to the template the first run came from.
func TestResumeRollsBackToRecordedOrigin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, fastStrategy(), 3)
		if _, err := h.apply(t.Context(), "v1", nil); err != nil {
			t.Fatal(err)
		}
		h.d.broken["v3"] = "unhealthy"
		ctx, cancel := context.WithTimeout(t.Context(), 25*time.Second)
		defer cancel()
		if rep, _ := h.apply(ctx, "v3", nil); rep.Outcome != rollout.OutcomeInterrupted {
			t.Fatalf("first run: %s", rep.Outcome)
		}
		if h.d.origin != "tpl-v1-small" {
			t.Fatalf("origin = %q after interrupt", h.d.origin)
		}
		rep, err := h.apply(t.Context(), "v3", nil)
		if rep.Outcome != rollout.OutcomeRolledBack {
			t.Fatalf("second run: %s %v", rep.Outcome, err)
		}
		h.assertConverged("v1")
	})
}

func TestDestroy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, fastStrategy(), 3)
		if _, err := h.apply(t.Context(), "v1", nil); err != nil {
			t.Fatal(err)
		}
		var (
			mu      sync.Mutex
			drained []string
		)
		// Destroy drains nodes concurrently.
		drain := rollout.DrainerFunc(func(ctx context.Context, n rollout.Node) error {
			mu.Lock()
			defer mu.Unlock()
			drained = append(drained, n.ID)
			return nil
		})
		if _, err := h.executor(drain).Destroy(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, total, _ := h.d.healthy(); total != 0 || h.d.created || len(drained) != 3 {
			t.Fatalf("after destroy: %d nodes, group exists %v, drained %v", total, h.d.created, drained)
		}
		if _, err := h.executor(nil).Destroy(t.Context()); err != nil {
			t.Fatalf("destroying a destroyed pool: %v", err)
		}
	})
}

func TestNewRejectsBadOptions(t *testing.T) {
	d := newMemDriver(t, 0)
	if _, err := rollout.New(rollout.Options{Driver: d, Strategy: fastStrategy()}); err == nil || !strings.Contains(err.Error(), "Prober") {
		t.Fatalf("missing prober: %v", err)
	}
	s := fastStrategy()
	s.MaxSurge, s.MaxUnavailable = rollout.Count(0), rollout.Count(0)
	if _, err := rollout.New(rollout.Options{Driver: d, Strategy: s, Prober: d.prober()}); err == nil || !strings.Contains(err.Error(), "max_surge") {
		t.Fatalf("zero budgets: %v", err)
	}
}

// TestApplyRepairsDeadNode: a node that dies in a converged pool is replaced
// by the next Apply, not treated as a failed rollout with nothing to roll
// back to.
func TestApplyRepairsDeadNode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, fastStrategy(), 3)
		if _, err := h.apply(t.Context(), "v1", nil); err != nil {
			t.Fatal(err)
		}
		h.d.mu.Lock()
		h.d.nodes["n002"].State, h.d.nodes["n002"].Detail = rollout.NodeFailed, "killed by signal KILL"
		h.d.mu.Unlock()
		rep, err := h.apply(t.Context(), "v1", nil)
		if err != nil {
			t.Fatalf("repair: %v", err)
		}
		h.assertConverged("v1")
		if _, ok := h.d.nodes["n002"]; ok || rep.Added != 1 || rep.Removed != 1 {
			t.Fatalf("dead node not replaced: %+v", rep)
		}
	})
}
