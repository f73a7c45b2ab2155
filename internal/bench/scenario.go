package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/metrics"
	"strings"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/internal/sim"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// Benchmark settings shared by every scenario, chosen to look like a
// production pool; BENCHMARKS.md states them.
const (
	// probeInterval is the engine's tick and probe period: 2 s, as many
	// health checkers use. It quantises detection; the lower bound has no
	// such delay, and the report measures its share of the gap.
	probeInterval    = 2 * time.Second
	healthyThreshold = 2
	minReady         = 10 * time.Second
)

// drainDist is how long evacuating a node takes: a median of 30 s, the
// default terminationGracePeriodSeconds of a Kubernetes pod, with a right
// tail up to 2 min for nodes whose workloads shut down slowly.
var drainDist = sim.LogNormal(30*time.Second, 0.5, 10*time.Second, 2*time.Minute)

// Scenario is one benchmarked rollout.
type Scenario struct {
	Name        string
	Nodes       int
	Surge       rollout.IntOrPercent
	Unavailable rollout.IntOrPercent
	// Faults: "" none; "errors" injected 5xx and timeouts; "throttle" the
	// EC2-shaped token buckets; "errors+throttle" both.
	Faults string
	// Naive also runs the scripted lockstep baseline.
	Naive bool
	// Headline scenarios get a plot.
	Headline bool
	// Interval overrides probeInterval, to show its share of the gap.
	Interval time.Duration
}

func (sc Scenario) interval() time.Duration {
	if sc.Interval > 0 {
		return sc.Interval
	}
	return probeInterval
}

// Matrix is the scenario set `make bench` runs. It covers each axis (size,
// surge, faults) without the full cross product: surge 1 runs at 10 and 100
// nodes only, since at 10,000 it is 10,000 sequential replacements (about
// two weeks of virtual time) and says nothing the 100-node run does not.
func Matrix() []Scenario {
	one, ten, quarter, zero := rollout.Count(1), rollout.Percent(10), rollout.Percent(25), rollout.Count(0)
	return []Scenario{
		{Name: "n10-surge1", Nodes: 10, Surge: one, Unavailable: zero, Naive: true},
		{Name: "n10-surge25pct", Nodes: 10, Surge: quarter, Unavailable: zero, Naive: true},
		{Name: "n100-surge1", Nodes: 100, Surge: one, Unavailable: zero, Naive: true},
		{Name: "n100-surge10pct", Nodes: 100, Surge: ten, Unavailable: zero, Naive: true, Headline: true},
		{Name: "n100-surge25pct", Nodes: 100, Surge: quarter, Unavailable: zero, Naive: true},
		{Name: "n100-unavail10pct", Nodes: 100, Surge: zero, Unavailable: ten, Naive: true},
		{Name: "n100-surge10pct-errors", Nodes: 100, Surge: ten, Unavailable: zero, Faults: "errors", Naive: true},
		{Name: "n1000-surge10pct", Nodes: 1000, Surge: ten, Unavailable: zero, Naive: true},
		{Name: "n1000-surge25pct", Nodes: 1000, Surge: quarter, Unavailable: zero, Naive: true, Headline: true},
		{Name: "n1000-surge25pct-probe1s", Nodes: 1000, Surge: quarter, Unavailable: zero, Interval: time.Second},
		{Name: "n1000-surge25pct-probe5s", Nodes: 1000, Surge: quarter, Unavailable: zero, Interval: 5 * time.Second},
		{Name: "n1000-surge25pct-throttle", Nodes: 1000, Surge: quarter, Unavailable: zero, Faults: "throttle", Naive: true, Headline: true},
		{Name: "n1000-surge25pct-errors+throttle", Nodes: 1000, Surge: quarter, Unavailable: zero, Faults: "errors+throttle", Naive: true},
		{Name: "n10000-surge10pct", Nodes: 10000, Surge: ten, Unavailable: zero},
		{Name: "n10000-surge25pct", Nodes: 10000, Surge: quarter, Unavailable: zero, Naive: true, Headline: true},
		{Name: "n10000-surge25pct-throttle", Nodes: 10000, Surge: quarter, Unavailable: zero, Faults: "throttle"},
	}
}

func (sc Scenario) strategy() rollout.Strategy {
	s := rollout.DefaultStrategy()
	s.MaxSurge, s.MaxUnavailable = sc.Surge, sc.Unavailable
	s.ProbeInterval, s.HealthyThreshold, s.MinReady = sc.interval(), healthyThreshold, minReady
	s.NodeDeadline = 10 * time.Minute
	s.DrainTimeout = 5 * time.Minute
	return s
}

// cloudOptions are the sim's realistic defaults (boot 20-90 s, ready 3-30 s,
// terminate 5-60 s, API latency ~150 ms; sources in sim.DefaultOptions) plus
// the scenario's faults.
func (sc Scenario) cloudOptions(seed int64) sim.Options {
	o := sim.DefaultOptions()
	o.Seed = seed
	if strings.Contains(sc.Faults, "errors") {
		// 2% of calls fail with a 5xx, 0.5% hang 10 s and fail; those that
		// hang took effect anyway half of the time (a lost response).
		o.Faults.ErrorRate = 0.02
		o.Faults.TimeoutRate = 0.005
		o.Faults.Timeout = 10 * time.Second
		o.Faults.TimeoutApplies = 0.5
	}
	if strings.Contains(sc.Faults, "throttle") {
		o.Faults.Throttle = true // EC2's published buckets (see sim.Faults)
	}
	return o
}

// drainTime draws node id's drain time from its own stream: the same node
// drains in the same time in the engine run and in the baseline run.
func drainTime(seed int64) func(id string) time.Duration {
	return func(id string) time.Duration { return drainDist.Draw(simStream(seed, "bench-drain/"+id, 0)) }
}

// Run is one rollout's measurements.
type Run struct {
	Outcome   string         `json:"outcome"`
	Seconds   float64        `json:"seconds"` // virtual duration
	Calls     map[string]int `json:"calls"`
	Describe  int            `json:"describe"`
	Mutate    int            `json:"mutate"`
	Throttled int            `json:"throttled"`
	Faulted   int            `json:"faulted"` // 5xx and timeouts injected
	Probes    int            `json:"probes"`  // health probes sent
	Replaced  int            `json:"replaced"`
	// MinCapacity is the lowest healthy capacity seen (the sim's truth less
	// nodes being drained) after any API call or drain start.
	MinCapacity int `json:"min_capacity"`
	MaxNodes    int `json:"max_nodes"`
	// LowerBound and Lockstep are computed from this run's own nodes.
	LowerBound float64 `json:"lower_bound"`
	Lockstep   float64 `json:"lockstep"`
	// Greedy is the zero-overhead continuous schedule (see Greedy).
	Greedy float64 `json:"greedy"`
	// MeanNewNode is the mean gate-free time a new node needs to count
	// (boot + ready + (threshold-1) probes + min_ready); MeanDetected is the
	// mean the engine measured from launch to available. The difference is
	// detection delay: probe and tick quantisation plus API latency.
	MeanNewNode  float64 `json:"mean_new_node"`
	MeanDetected float64 `json:"mean_detected"`
	MeanOld      float64 `json:"mean_old"` // drain + terminate
	// Heap figures (engine runs only), from runtime/metrics
	// /memory/classes/heap/objects:bytes: live and not yet swept objects.
	BaseHeap   uint64    `json:"base_heap"`
	PeakHeap   uint64    `json:"peak_heap"`
	AllocBytes uint64    `json:"alloc_bytes"`
	Points     []Point   `json:"points"`
	Waves      []float64 `json:"waves"`
	Error      string    `json:"error,omitempty"`
}

// Result is one scenario's runs.
type Result struct {
	Scenario    Scenario `json:"scenario"`
	Seed        int64    `json:"seed"`
	Surge       int      `json:"surge"`
	Unavailable int      `json:"unavailable"`
	MinAllowed  int      `json:"min_allowed"`
	MaxAllowed  int      `json:"max_allowed"`
	Engine      Run      `json:"engine"`
	Naive       *Run     `json:"naive,omitempty"`
}

var (
	specV1 = func(n int) rollout.Spec { return rollout.Spec{Image: "v1", MachineType: "standard-2", Size: n} }
	specV2 = func(n int) rollout.Spec { return rollout.Spec{Image: "v2", MachineType: "standard-2", Size: n} }
)

// RunScenario runs sc with the engine and, when asked, the baseline. Call
// it inside a synctest bubble: every duration is virtual.
func RunScenario(ctx context.Context, sc Scenario, seed int64) (Result, error) {
	s := sc.strategy()
	b := s.Resolve(sc.Nodes)
	res := Result{Scenario: sc, Seed: seed, Surge: b.Surge, Unavailable: b.Unavailable,
		MinAllowed: sc.Nodes - b.Unavailable, MaxAllowed: sc.Nodes + b.Surge}
	eng, err := runEngine(ctx, sc, seed)
	if err == nil && eng.Outcome != string(rollout.OutcomeConverged) {
		err = fmt.Errorf("rollout ended %s: %s", eng.Outcome, eng.Error)
	}
	if err != nil {
		return res, fmt.Errorf("scenario %s: engine: %w", sc.Name, err)
	}
	res.Engine = eng
	if sc.Naive {
		nv, err := runNaive(ctx, sc, seed)
		if err != nil {
			return res, fmt.Errorf("scenario %s: baseline: %w", sc.Name, err)
		}
		res.Naive = &nv
	}
	return res, nil
}

var heapAllocs = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/allocs:bytes"}}

func readHeap() (inUse, allocs uint64) {
	metrics.Read(heapAllocs)
	return heapAllocs[0].Value.Uint64(), heapAllocs[1].Value.Uint64()
}

func runEngine(ctx context.Context, sc Scenario, seed int64) (Run, error) {
	o := sc.cloudOptions(seed)
	cloud := sim.New(o)
	if _, err := cloud.Populate(specV1(sc.Nodes)); err != nil {
		return Run{}, err
	}
	runtime.GC()
	base, alloc0 := readHeap()
	start := time.Now()
	rec := newRecorder(start, true)
	rec.peakHeap = base
	rec.attach(cloud)
	e, err := rollout.New(rollout.Options{
		Driver:   driver{cloud, rec},
		Strategy: sc.strategy(),
		Prober:   cloud.Prober(),
		Drainer:  rec.drainer(drainTime(seed)),
		OnEvent: func(ev rollout.Event) {
			if ev.Type == rollout.EventWaveStarted {
				rec.wave(ev.Time)
			}
		},
	})
	if err != nil {
		return Run{}, err
	}
	rep, err := e.Apply(ctx, specV2(sc.Nodes))
	run := Run{Outcome: string(rep.Outcome), Seconds: rep.Duration().Seconds(), Replaced: rep.Replaced}
	if err != nil {
		run.Error = err.Error()
	}
	_, alloc1 := readHeap()
	run.BaseHeap, run.PeakHeap, run.AllocBytes = base, rec.peakHeap, alloc1-alloc0
	var detected time.Duration
	for _, d := range rep.NodeReady {
		detected += d
	}
	if len(rep.NodeReady) > 0 {
		run.MeanDetected = (detected / time.Duration(len(rep.NodeReady))).Seconds()
	}
	if err := finish(&run, cloud, rec, sc, seed); err != nil {
		return run, err
	}
	return run, nil
}

// finish fills in what the cloud and the recorder saw, and the bounds
// computed from the nodes this run actually launched and removed.
func finish(run *Run, cloud *sim.Cloud, rec *recorder, sc Scenario, seed int64) error {
	st := cloud.Stats()
	run.Calls = st.Calls
	for k, v := range st.Calls {
		if k == sim.CallDescribe {
			run.Describe += v
		} else {
			run.Mutate += v
		}
	}
	run.Throttled, run.Faulted, run.Probes = st.Throttled, st.Errors+st.Timeouts, st.Probes
	rec.mu.Lock()
	run.MinCapacity, run.MaxNodes = rec.minCapacity, rec.maxNodes
	run.Points, run.Waves = rec.points, rec.waves
	rec.mu.Unlock()
	if run.Outcome != string(rollout.OutcomeConverged) {
		// Only the baseline may give up (the engine's failures fail the
		// scenario): its figures so far are kept, there are no bounds.
		return nil
	}

	// Nodes n-0001..n-<size> are the old pool; the new ones are those on the
	// target template at the end, in launch order.
	snap := cloud.State()
	tpl, ok := cloud.TemplateFor(specV2(sc.Nodes))
	if !ok {
		return errors.New("no template was made for v2")
	}
	if snap.ByTemplate[tpl.ID].Nodes != sc.Nodes {
		return fmt.Errorf("rollout did not converge: %+v (%s: %s)", snap, run.Outcome, run.Error)
	}
	o := sc.cloudOptions(seed)
	gate := time.Duration(healthyThreshold-1)*sc.interval() + minReady
	var newT, oldT []time.Duration
	dt := drainTime(seed)
	for seq := uint64(1); seq <= uint64(sc.Nodes); seq++ {
		tm := simNodeTiming(o, seq)
		oldT = append(oldT, dt(fmt.Sprintf("n-%04d", seq))+tm.Terminate)
	}
	final, err := describeRetry(context.Background(), cloud)
	if err != nil {
		return err
	}
	for _, n := range final.Nodes {
		if n.Template != tpl.ID {
			continue
		}
		seq, err := nodeSeq(n.ID)
		if err != nil {
			return err
		}
		tm := simNodeTiming(o, seq)
		newT = append(newT, tm.Boot+tm.Ready+gate)
	}
	c := max(1, sc.strategy().Resolve(sc.Nodes).Concurrency())
	run.LowerBound = LowerBound(newT, oldT, c).Seconds()
	run.Lockstep = Lockstep(newT, oldT, c).Seconds()
	run.Greedy = Greedy(newT, oldT, c).Seconds()
	run.MeanNewNode = mean(newT).Seconds()
	run.MeanOld = mean(oldT).Seconds()
	return nil
}

func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var s time.Duration
	for _, d := range ds {
		s += d
	}
	return s / time.Duration(len(ds))
}

// describeRetry describes the pool through faults and throttling, for the
// measurements after a run (not counted: stats were read before).
func describeRetry(ctx context.Context, c *sim.Cloud) (rollout.Pool, error) {
	for attempt := 0; ; attempt++ {
		p, err := c.Describe(ctx)
		if err == nil {
			return p, nil
		}
		wait, retry := rollout.DefaultRetry(attempt, c.ErrorCode(err), err)
		if !retry {
			return p, err
		}
		time.Sleep(wait)
	}
}
