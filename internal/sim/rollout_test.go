package sim_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/internal/sim"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

var (
	update = flag.Bool("update", false, "rewrite testdata/*.golden from this run")
)

// world is one simulated pool under test: the cloud, the invariant checker
// watching every step it records, and the narrative of the run.
type world struct {
	t      *testing.T
	cloud  *sim.Cloud
	strat  rollout.Strategy
	size   int
	budget rollout.Budget
	start  time.Time
	events []rollout.Event
	lines  []string
	// broken is set once the pool was healthy at the start: from then on
	// the availability floor must hold.
	healthyAtStart bool
	violations     []string
	steps          int
	// draining are the nodes a drain was started on and that were not
	// removed yet, across runs: a drained node serves nothing a scheduler
	// may count on, even if an interrupted run never removed it.
	draining map[string]bool
}

// newWorld makes a cloud holding size healthy nodes on spec "v1" and starts
// checking invariants on every recorded step.
func newWorld(t *testing.T, o sim.Options, s rollout.Strategy, size int) *world {
	t.Helper()
	w := &world{t: t, cloud: sim.New(o), strat: s, size: size, budget: s.Resolve(size), start: time.Now(), draining: map[string]bool{}}
	if _, err := w.cloud.Populate(spec("v1", size)); err != nil {
		t.Fatal(err)
	}
	w.healthyAtStart = w.cloud.State().Healthy == size
	w.cloud.Observe(w.check)
	return w
}

func spec(image string, size int) rollout.Spec {
	return rollout.Spec{Image: image, MachineType: "small", Size: size}
}

// check asserts the safety invariants at one step:
//   - nodes that exist (terminating ones included) <= size + max_surge;
//   - healthy nodes >= size - max_unavailable, once the pool was healthy.
func (w *world) check(now time.Time, s sim.Snapshot) {
	w.steps++
	if limit := w.size + w.budget.Surge; s.Nodes > limit {
		w.violate(now, "%d nodes exist, more than size %d + surge %d (after %s)", s.Nodes, w.size, w.budget.Surge, s.Call)
	}
	if floor := w.size - w.budget.Unavailable; w.healthyAtStart && s.Healthy < floor {
		w.violate(now, "%d healthy nodes, fewer than size %d - unavailable %d (after %s)", s.Healthy, w.size, w.budget.Unavailable, s.Call)
	}
}

func (w *world) violate(now time.Time, format string, args ...any) {
	if len(w.violations) < 10 {
		w.violations = append(w.violations, fmt.Sprintf("%s: %s", w.offset(now), fmt.Sprintf(format, args...)))
	}
}

func (w *world) offset(t time.Time) string {
	return fmt.Sprintf("+%s", t.Sub(w.start).Round(time.Millisecond))
}

// executor returns a fresh executor on the world's cloud; onEvent, when
// set, sees each event after it is recorded.
func (w *world) executor(onEvent func(rollout.Event)) *rollout.Executor {
	w.t.Helper()
	e, err := rollout.New(rollout.Options{
		Driver:   w.cloud,
		Strategy: w.strat,
		Prober:   w.cloud.Prober(),
		Drainer:  w.cloud.Drainer(sim.Uniform(5*time.Second, 15*time.Second)),
		OnEvent: func(ev rollout.Event) {
			w.events = append(w.events, ev)
			w.lines = append(w.lines, fmt.Sprintf("%-10s %s", w.offset(ev.Time), ev))
			w.checkDrain(ev)
			if onEvent != nil {
				onEvent(ev)
			}
		},
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}

// checkDrain asserts the stricter form of the availability floor when a
// drain starts: the healthy nodes not being drained must still number at
// least size - max_unavailable. An old node may go only when the capacity
// it provides is covered by healthy new nodes or the unavailable budget.
func (w *world) checkDrain(ev rollout.Event) {
	switch ev.Type {
	case rollout.EventNodeDraining:
		w.draining[ev.Node] = true
	case rollout.EventNodeRemoved:
		delete(w.draining, ev.Node)
		return
	default:
		return
	}
	ids := make([]string, 0, len(w.draining))
	for id := range w.draining {
		ids = append(ids, id)
	}
	capacity := w.cloud.State().Healthy - w.cloud.Serving(ids)
	if floor := w.size - w.budget.Unavailable; w.healthyAtStart && capacity < floor {
		w.violate(ev.Time, "draining %s leaves %d healthy nodes not draining, fewer than size %d - unavailable %d", ev.Node, capacity, w.size, w.budget.Unavailable)
	}
}

// invariantsHeld fails the test if any step broke a safety invariant.
func (w *world) invariantsHeld() {
	w.t.Helper()
	if w.steps == 0 {
		w.t.Fatal("the invariant checker saw no steps")
	}
	for _, v := range w.violations {
		w.t.Errorf("invariant broken at %s", v)
	}
}

// settledOn asserts the end state: exactly size members, all on one
// template (tpl) and healthy, nothing left terminating, no origin mark.
func (w *world) settledOn(tpl string) {
	w.t.Helper()
	s := w.cloud.State()
	if s.Template != tpl || s.Size != w.size || s.Members != w.size || s.Healthy != w.size || s.Nodes != w.size ||
		len(s.ByTemplate) != 1 || s.ByTemplate[tpl].Nodes != w.size || s.Origin != "" {
		w.t.Errorf("want %d healthy nodes all on %s and the group on it with no origin; have %+v", w.size, tpl, s)
	}
}

// templateID is the sim's ID for an image, looked up without an API call.
func (w *world) templateID(image string) string {
	w.t.Helper()
	t, ok := w.cloud.TemplateFor(spec(image, 0))
	if !ok {
		w.t.Fatalf("no template for image %s", image)
	}
	return t.ID
}

func strategy(surge, unavail rollout.IntOrPercent) rollout.Strategy {
	s := rollout.DefaultStrategy()
	s.MaxSurge, s.MaxUnavailable = surge, unavail
	s.NodeDeadline = 5 * time.Minute
	return s
}

func cloudOptions(seed int64, broken map[string]sim.Mode) sim.Options {
	o := sim.DefaultOptions()
	o.Seed = seed
	// Crashing nodes die before min_ready, so they can never count as
	// capacity: a crash after that is the cloud's doing, not the engine's.
	o.CrashAfter = sim.Uniform(0, 5*time.Second)
	o.Broken = sim.BrokenImages(broken)
	return o
}

type scenario struct {
	name    string
	size    int
	strat   rollout.Strategy
	broken  map[string]sim.Mode
	outcome rollout.Outcome
	// settles says which image the pool ends on; "" for a halt.
	settles string
	faults  sim.Faults
}

func scenarios() []scenario {
	canary := strategy(rollout.Count(2), rollout.Count(0))
	canary.CanaryCount, canary.CanarySoak = 1, 2*time.Minute
	halt := strategy(rollout.Count(1), rollout.Count(0))
	halt.OnFailure = rollout.Halt
	return []scenario{
		{"surge1", 10, strategy(rollout.Count(1), rollout.Count(0)), nil, rollout.OutcomeConverged, "v2", sim.Faults{}},
		{"surge25pct", 10, strategy(rollout.Percent(25), rollout.Count(0)), nil, rollout.OutcomeConverged, "v2", sim.Faults{}},
		{"unavailable1", 10, strategy(rollout.Count(0), rollout.Count(1)), nil, rollout.OutcomeConverged, "v2", sim.Faults{}},
		{"rollback", 10, strategy(rollout.Count(1), rollout.Count(0)), map[string]sim.Mode{"v2": sim.Unhealthy}, rollout.OutcomeRolledBack, "v1", sim.Faults{}},
		{"halt", 10, halt, map[string]sim.Mode{"v2": sim.Crash}, rollout.OutcomeHalted, "", sim.Faults{}},
		{"canary", 10, canary, nil, rollout.OutcomeConverged, "v2", sim.Faults{}},
		// A flaky, throttled, eventually consistent API: the narrative shows
		// the retries, and the outcome is the same.
		{"faulty", 6, strategy(rollout.Count(2), rollout.Count(1)), nil, rollout.OutcomeConverged, "v2", sim.Faults{
			ErrorRate: 0.1, TimeoutRate: 0.05, Timeout: 20 * time.Second, TimeoutApplies: 0.5,
			Throttle: true, MutateBucket: sim.Bucket{Capacity: 2, Refill: 0.1},
			Appear: sim.Uniform(0, 20*time.Second)}},
		{"faulty-rollback", 6, strategy(rollout.Count(2), rollout.Count(1)), map[string]sim.Mode{"v2": sim.Crash}, rollout.OutcomeRolledBack, "v1", sim.Faults{
			ErrorRate: 0.1, TimeoutRate: 0.05, Timeout: 20 * time.Second, TimeoutApplies: 0.5}},
	}
}

// TestScenarios runs fixed rollouts with seed 0 and compares their narrative
// (each event with its virtual-time offset) with testdata/<name>.golden.
// Regenerate with: go test ./internal/sim -run TestScenarios -update
func TestScenarios(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				o := cloudOptions(0, sc.broken)
				o.Faults = sc.faults
				w := newWorld(t, o, sc.strat, sc.size)
				rep, err := w.executor(nil).Apply(t.Context(), spec("v2", sc.size))
				if rep.Outcome != sc.outcome {
					t.Fatalf("outcome %s, want %s: %v\n%s", rep.Outcome, sc.outcome, err, strings.Join(w.lines, "\n"))
				}
				if (err == nil) != (sc.outcome == rollout.OutcomeConverged) {
					t.Errorf("Apply error %v with outcome %s", err, rep.Outcome)
				}
				var re *rollout.RolloutError
				if err != nil && !errors.As(err, &re) {
					t.Errorf("Apply error is %T, want *rollout.RolloutError", err)
				}
				w.invariantsHeld()
				v1, v2 := w.templateID("v1"), w.templateID("v2")
				if rep.From != v1 || rep.To != v2 {
					t.Errorf("report says %s -> %s, want %s -> %s", rep.From, rep.To, v1, v2)
				}
				switch sc.settles {
				case "v2":
					w.settledOn(v2)
					if rep.Replaced != sc.size {
						t.Errorf("report: replaced %d, want %d", rep.Replaced, sc.size)
					}
				case "v1":
					w.settledOn(v1)
					if len(rep.Failures) == 0 {
						t.Error("a rolled back report names no failed node")
					}
				default:
					if s := w.cloud.State(); s.ByTemplate[v1].Healthy < sc.size-w.budget.Unavailable {
						t.Errorf("halted with too few healthy old nodes: %+v", s)
					}
				}
				if floor := sc.size - w.budget.Unavailable; rep.LowestHealthy < floor {
					t.Errorf("report: lowest healthy %d, below the floor %d", rep.LowestHealthy, floor)
				}
				golden(t, sc.name, strings.Join(w.lines, "\n")+"\n")
			})
		})
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("narrative differs from %s (rerun with -update if the change is intended):\n%s", path, diff(string(want), got))
	}
}

// diff shows the first lines where want and got part.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, a, b)
		}
	}
	return "(no difference)"
}

// randomCase draws a pool, a strategy, a fault mix and maybe a broken target
// from seed.
func randomCase(seed int64) (o sim.Options, s rollout.Strategy, size int, broken bool, desc string) {
	r := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	size = 1 + r.IntN(6)
	budgets := [][2]rollout.IntOrPercent{
		{rollout.Count(1), rollout.Count(0)},
		{rollout.Count(0), rollout.Count(1)},
		{rollout.Percent(25), rollout.Count(0)},
		{rollout.Count(2), rollout.Count(1)},
		{rollout.Percent(50), rollout.Percent(25)},
		{rollout.Count(0), rollout.Percent(10)},
	}
	b := budgets[r.IntN(len(budgets))]
	s = strategy(b[0], b[1])
	s.NodeDeadline = 4 * time.Minute
	if r.IntN(4) == 0 {
		s.CanaryCount, s.CanarySoak = 1, time.Minute
	}
	if r.IntN(4) == 0 {
		s.PauseBetweenWaves = 30 * time.Second
	}
	modes := []sim.Mode{sim.Healthy, sim.Healthy, sim.Healthy, sim.Crash, sim.Unhealthy, sim.Slow}
	mode := modes[r.IntN(len(modes))]
	broken = mode != sim.Healthy
	o = cloudOptions(seed, map[string]sim.Mode{"v2": mode})
	if r.IntN(2) == 0 {
		o.Faults.ErrorRate = r.Float64() * 0.1
		o.Faults.TimeoutRate = r.Float64() * 0.05
		o.Faults.Timeout = 10 * time.Second
		o.Faults.TimeoutApplies = 0.5
	}
	// Eventual consistency: new nodes listed late, removed nodes listed in
	// their old state for a while, or both at once (the executor must not
	// let one hide the other when counting nodes against the surge).
	switch k := r.IntN(4); {
	case k == 1 || k == 3:
		o.Faults.Appear = sim.Uniform(0, 15*time.Second)
		if k == 3 {
			o.Faults.Linger = sim.Uniform(0, 10*time.Second)
		}
	case k == 2:
		o.Faults.Linger = sim.Uniform(0, 10*time.Second)
	}
	if r.IntN(4) == 0 {
		o.Faults.Throttle = true
		o.Faults.DescribeBucket = sim.Bucket{Capacity: 3, Refill: 0.5}
		o.Faults.MutateBucket = sim.Bucket{Capacity: 2, Refill: 0.2}
	}
	desc = fmt.Sprintf("size %d surge %s unavailable %s canary %d pause %s v2=%q faults{5xx %.3f timeout %.3f appear %s linger %s throttle %v}",
		size, b[0], b[1], s.CanaryCount, s.PauseBetweenWaves, mode, o.Faults.ErrorRate, o.Faults.TimeoutRate, o.Faults.Appear, o.Faults.Linger, o.Faults.Throttle)
	return
}

// TestRandomSeeds rolls v1 -> v2 under many seeds, with broken targets and
// cloud faults drawn per seed. Every run must end converged on v2 when v2 is
// sound, or rolled back to v1 when it is not: never in between, with the
// invariants held at every step. Seeds run in parallel bubbles.
func TestRandomSeeds(t *testing.T) {
	const seeds = 240
	for seed := range int64(seeds) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			o, s, size, broken, desc := randomCase(seed)
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, o, s, size)
				rep, err := w.executor(nil).Apply(t.Context(), spec("v2", size))
				fail := func(format string, args ...any) {
					t.Helper()
					t.Fatalf("seed %d (%s): %s\n%s", seed, desc, fmt.Sprintf(format, args...), strings.Join(w.lines, "\n"))
				}
				want, end := rollout.OutcomeConverged, w.templateID("v2")
				if broken {
					want, end = rollout.OutcomeRolledBack, w.templateID("v1")
				}
				if rep.Outcome != want {
					fail("outcome %s, want %s: %v", rep.Outcome, want, err)
				}
				w.settledOn(end)
				w.invariantsHeld()
				if v1, v2 := w.templateID("v1"), w.templateID("v2"); rep.From != v1 || rep.To != v2 {
					t.Errorf("report says %s -> %s, want %s -> %s", rep.From, rep.To, v1, v2)
				}
				// A removed node still listed in its old state must not be
				// drained, removed or counted twice.
				if !broken && rep.Replaced != size {
					t.Errorf("report: replaced %d of %d", rep.Replaced, size)
				}
				if broken && len(rep.Failures) == 0 {
					t.Errorf("report of a rollback names no failure")
				}
				if floor := size - w.budget.Unavailable; rep.LowestHealthy < floor {
					t.Errorf("report: lowest healthy %d, below the floor %d", rep.LowestHealthy, floor)
				}
				if t.Failed() {
					fail("see above")
				}
				t.Logf("seed %d (%s): %s in %s, %d events, %d cloud steps checked", seed, desc, rep.Outcome, rep.Duration(), len(w.events), w.steps)
			})
		})
	}
}

// TestResume interrupts a rollout at every event in turn (the k-th event
// cancels the context), then runs a fresh executor on the same cloud: it
// must finish the job from what the cloud shows, with the invariants held
// across both runs.
func TestResume(t *testing.T) {
	faulty := sim.Faults{ErrorRate: 0.05, TimeoutRate: 0.03, Timeout: 10 * time.Second, TimeoutApplies: 0.5,
		Appear: sim.Uniform(0, 10*time.Second)}
	cases := []struct {
		name   string
		broken map[string]sim.Mode
		faults sim.Faults
		ends   string
	}{
		{"roll", nil, sim.Faults{}, "v2"},
		{"rollback", map[string]sim.Mode{"v2": sim.Unhealthy}, sim.Faults{}, "v1"},
		{"roll-faulty", nil, faulty, "v2"},
		{"rollback-faulty", map[string]sim.Mode{"v2": sim.Unhealthy}, faulty, "v1"},
		// A target node booting at the interruption must earn its place in
		// the resumed run (threshold and min_ready) before an old node goes.
		{"rollback-crash", map[string]sim.Mode{"v2": sim.Crash}, sim.Faults{}, "v1"},
	}
	for _, c := range cases {
		opts := func() sim.Options {
			o := cloudOptions(1, c.broken)
			o.Faults = c.faults
			return o
		}
		t.Run(c.name, func(t *testing.T) {
			const size = 4
			s := strategy(rollout.Count(1), rollout.Count(1))
			var total int
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, opts(), s, size)
				w.executor(nil).Apply(t.Context(), spec("v2", size))
				total = len(w.events)
			})
			if total < 10 {
				t.Fatalf("the full run has only %d events", total)
			}
			interrupted := 0
			defer func() { t.Logf("%d events; interrupted %d runs at one of them and resumed each", total, interrupted) }()
			for k := 1; k <= total; k++ {
				synctest.Test(t, func(t *testing.T) {
					w := newWorld(t, opts(), s, size)
					ctx, cancel := context.WithCancel(t.Context())
					defer cancel()
					seen := 0
					first, _ := w.executor(func(rollout.Event) {
						if seen++; seen == k {
							cancel()
						}
					}).Apply(ctx, spec("v2", size))
					want := rollout.OutcomeConverged
					if c.broken != nil {
						want = rollout.OutcomeRolledBack
					}
					if first.Outcome == rollout.OutcomeInterrupted {
						interrupted++
					} else if first.Outcome != want {
						t.Errorf("k=%d: cancelled run ended %s, want interrupted or %s", k, first.Outcome, want)
					}
					cut := len(w.lines)
					rep, err := w.executor(nil).Apply(t.Context(), spec("v2", size))
					if rep.Outcome != want {
						t.Errorf("k=%d: resumed run ended %s, want %s: %v", k, rep.Outcome, want, err)
					}
					w.settledOn(w.templateID(c.ends))
					w.invariantsHeld()
					if t.Failed() {
						t.Fatalf("k=%d: first run:\n%s\nresumed run:\n%s", k, strings.Join(w.lines[:cut], "\n"), strings.Join(w.lines[cut:], "\n"))
					}
				})
			}
		})
	}
}

// TestQuotaFailsCleanly rolls a pool whose account has no room for the
// surge node: the launch fails with a quota error that retrying cannot fix,
// and the rollout must end rolled back with the pool untouched.
func TestQuotaFailsCleanly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := cloudOptions(0, nil)
		o.MaxNodes = 4
		w := newWorld(t, o, strategy(rollout.Count(1), rollout.Count(0)), 4)
		rep, err := w.executor(nil).Apply(t.Context(), spec("v2", 4))
		if rep.Outcome != rollout.OutcomeRolledBack || err == nil || !strings.Contains(err.Error(), "instance limit") {
			t.Errorf("outcome %s, error %v; want rolled back naming the instance limit\n%s", rep.Outcome, err, strings.Join(w.lines, "\n"))
		}
		w.invariantsHeld()
		w.settledOn(w.templateID("v1"))
		if st := w.cloud.Stats(); st.Removed != 0 || st.Launched != 4 {
			t.Errorf("the pool should be untouched: %+v", st)
		}
	})
}

// TestRandomResume interrupts random rollouts (random pool, strategy,
// faults and broken target, as TestRandomSeeds) at a random event, then
// resumes with a fresh executor: the pair must end where one run would.
func TestRandomResume(t *testing.T) {
	const seeds = 120
	for seed := range int64(seeds) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			o, s, size, broken, desc := randomCase(1000 + seed)
			k := 1 + rand.New(rand.NewPCG(uint64(seed), 0xc0ffee)).IntN(30)
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, o, s, size)
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				seen := 0
				first, _ := w.executor(func(rollout.Event) {
					if seen++; seen == k {
						cancel()
					}
				}).Apply(ctx, spec("v2", size))
				cut := len(w.lines)
				rep, err := w.executor(nil).Apply(t.Context(), spec("v2", size))
				want, end := rollout.OutcomeConverged, w.templateID("v2")
				if broken {
					want, end = rollout.OutcomeRolledBack, w.templateID("v1")
				}
				if rep.Outcome != want {
					t.Errorf("resumed run ended %s, want %s: %v", rep.Outcome, want, err)
				}
				w.settledOn(end)
				w.invariantsHeld()
				if t.Failed() {
					t.Fatalf("seed %d (%s), interrupted at event %d; first run:\n%s\nresumed run:\n%s", seed, desc, k,
						strings.Join(w.lines[:cut], "\n"), strings.Join(w.lines[cut:], "\n"))
				}
				t.Logf("first run %s at event %d of %d; resumed run %s", first.Outcome, k, seen, rep.Outcome)
			})
		})
	}
}

// TestCreateAndDestroy has the executor create the group from nothing,
// grow it health-gated, and destroy it: drained, removed, deleted.
func TestCreateAndDestroy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := sim.New(cloudOptions(2, nil))
		var lines []string
		e, err := rollout.New(rollout.Options{Driver: c, Strategy: strategy(rollout.Count(1), rollout.Count(0)), Prober: c.Prober(),
			Drainer: c.Drainer(sim.Uniform(time.Second, 5*time.Second)),
			OnEvent: func(ev rollout.Event) { lines = append(lines, ev.String()) }})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := e.Apply(t.Context(), spec("v1", 3))
		if err != nil {
			t.Fatalf("create: %v\n%s", err, strings.Join(lines, "\n"))
		}
		s := c.State()
		if !s.Exists || s.Members != 3 || s.Healthy != 3 || s.Template != rep.To || s.ByTemplate[rep.To].Nodes != 3 {
			t.Errorf("after create: %+v", s)
		}
		if calls := c.Calls(); calls[sim.CallCreate] != 1 {
			t.Errorf("create calls %d, want 1", calls[sim.CallCreate])
		}
		if _, err := e.Destroy(t.Context()); err != nil {
			t.Fatalf("destroy: %v\n%s", err, strings.Join(lines, "\n"))
		}
		if s := c.State(); s.Exists || s.Nodes != 0 {
			t.Errorf("after destroy: %+v", s)
		}
		if _, err := c.Describe(t.Context()); rollout.CodeOf(c, err) != rollout.NotFound {
			t.Errorf("Describe after destroy: %v, want not found", err)
		}
		if rep, err := e.Destroy(t.Context()); err != nil || rep.Outcome != rollout.OutcomeConverged {
			t.Errorf("destroying again: %s, %v; want a no-op", rep.Outcome, err)
		}
	})
}
