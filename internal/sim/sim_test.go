package sim_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/internal/sim"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

var (
	v1 = rollout.Spec{Image: "v1", MachineType: "small"}
	v2 = rollout.Spec{Image: "v2", MachineType: "small"}
)

func describe(t *testing.T, c *sim.Cloud) rollout.Pool {
	t.Helper()
	p, err := c.Describe(t.Context())
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	return p
}

func states(p rollout.Pool) string {
	var s []string
	for _, n := range p.Nodes {
		s = append(s, n.ID+":"+string(n.State))
	}
	return strings.Join(s, " ")
}

// newGroup makes a cloud with an empty group on v1.
func newGroup(t *testing.T, o sim.Options) (*sim.Cloud, rollout.Template) {
	t.Helper()
	c := sim.New(o)
	tpl, err := c.Populate(rollout.Spec{Image: v1.Image, MachineType: v1.MachineType})
	if err != nil {
		t.Fatal(err)
	}
	return c, tpl
}

func TestBootReadyTerminateTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := newGroup(t, sim.Options{Boot: sim.Const(30 * time.Second), Ready: sim.Const(10 * time.Second),
			Terminate: sim.Const(20 * time.Second)})
		ctx, probe := t.Context(), c.Prober()
		if err := c.Resize(ctx, 2); err != nil {
			t.Fatal(err)
		}
		p := describe(t, c)
		if got := states(p); got != "n-0001:provisioning n-0002:provisioning" {
			t.Fatalf("at 0s: %s", got)
		}
		if err := probe.Probe(ctx, p.Nodes[0]); err == nil || !strings.Contains(err.Error(), "i/o timeout") {
			t.Errorf("probe of a booting node: %v, want a timeout", err)
		}
		time.Sleep(30*time.Second - time.Nanosecond)
		if got := states(describe(t, c)); got != "n-0001:provisioning n-0002:provisioning" {
			t.Fatalf("just before 30s: %s", got)
		}
		time.Sleep(time.Nanosecond)
		p = describe(t, c)
		if got := states(p); got != "n-0001:running n-0002:running" {
			t.Fatalf("at 30s: %s", got)
		}
		if err := probe.Probe(ctx, p.Nodes[0]); err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("probe of a node still starting its service: %v, want connection refused", err)
		}
		time.Sleep(10 * time.Second)
		for _, n := range p.Nodes {
			if err := probe.Probe(ctx, n); err != nil {
				t.Errorf("at 40s, probe %s: %v", n.ID, err)
			}
		}
		if s := c.State(); s.Healthy != 2 || s.Nodes != 2 {
			t.Errorf("State at 40s = %+v", s)
		}
		if err := c.RemoveNodes(ctx, []string{"n-0001"}); err != nil {
			t.Fatal(err)
		}
		p = describe(t, c)
		if got := states(p); got != "n-0001:terminating n-0002:running" || p.Size != 1 {
			t.Fatalf("after remove: %s size %d", got, p.Size)
		}
		if err := probe.Probe(ctx, p.Nodes[0]); err == nil {
			t.Error("a terminating node passed its probe")
		}
		if s := c.State(); s.Nodes != 2 || s.Members != 1 || s.Healthy != 1 {
			t.Errorf("terminating node should still exist but not count: %+v", s)
		}
		time.Sleep(20 * time.Second)
		if got := states(describe(t, c)); got != "n-0002:running" {
			t.Fatalf("20s after remove: %s", got)
		}
	})
}

// script drives a cloud through a fixed sequence of calls and records what
// it saw: the observer's timeline and every Describe.
func script(t *testing.T, seed int64) []string {
	var log []string
	synctest.Test(t, func(t *testing.T) {
		o := sim.DefaultOptions()
		o.Seed = seed
		o.Faults = sim.Faults{ErrorRate: 0.2, Appear: sim.Uniform(0, 5*time.Second)}
		c := sim.New(o)
		c.Observe(func(now time.Time, s sim.Snapshot) {
			log = append(log, now.Format(time.TimeOnly)+" "+s.Call+" nodes="+strconv.Itoa(s.Nodes)+" healthy="+strconv.Itoa(s.Healthy))
		})
		ctx := t.Context()
		retry := func(f func() error) {
			for f() != nil {
				time.Sleep(time.Second)
			}
		}
		var tpl rollout.Template
		retry(func() (err error) { tpl, err = c.PrepareTemplate(ctx, v1); return err })
		retry(func() error { return c.Create(ctx, tpl) })
		retry(func() error { return c.Resize(ctx, 5) })
		for range 30 {
			retry(func() error {
				p, err := c.Describe(ctx)
				if err == nil {
					log = append(log, states(p))
				}
				return err
			})
			time.Sleep(3 * time.Second)
		}
	})
	return log
}

func TestSeedDeterminism(t *testing.T) {
	a, b := script(t, 42), script(t, 42)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed, different timelines:\n%s\n---\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	if c := script(t, 43); reflect.DeepEqual(a, c) {
		t.Error("seeds 42 and 43 gave the same timeline: the seed is not used")
	}
	if len(a) < 30 {
		t.Errorf("timeline has %d entries, want one per call", len(a))
	}
}

func TestErrorAndTimeoutRates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := newGroup(t, sim.Options{Seed: 1, Faults: sim.Faults{ErrorRate: 0.2, TimeoutRate: 0.1, Timeout: 10 * time.Second}})
		const n = 2000
		var errs, timeouts int
		for range n {
			start := time.Now()
			_, err := c.Describe(t.Context())
			if err == nil {
				continue
			}
			if code := c.ErrorCode(err); code != rollout.Unavailable {
				t.Fatalf("fault classified %s, want unavailable: %v", code, err)
			}
			if strings.Contains(err.Error(), "timed out") {
				timeouts++
				if d := time.Since(start); d != 10*time.Second {
					t.Errorf("a timed-out call took %s, want the 10s timeout", d)
				}
			} else {
				errs++
			}
		}
		// 5xx is drawn first (20%); a timeout hits 10% of the rest (8% overall).
		if f := float64(errs) / n; f < 0.17 || f > 0.23 {
			t.Errorf("5xx rate %.3f, want about 0.20", f)
		}
		if f := float64(timeouts) / n; f < 0.06 || f > 0.10 {
			t.Errorf("timeout rate %.3f, want about 0.08", f)
		}
		st := c.Stats()
		if st.Errors != errs || st.Timeouts != timeouts || st.Calls[sim.CallDescribe] != n {
			t.Errorf("Stats = %+v, counted %d errors %d timeouts", st, errs, timeouts)
		}
	})
}

func TestThrottleBuckets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := newGroup(t, sim.Options{Faults: sim.Faults{Throttle: true}})
		ctx := t.Context()
		burst := func(k int, call func() error) (ok, throttled int, retryAfter time.Duration) {
			for range k {
				err := call()
				switch {
				case err == nil:
					ok++
				case rollout.CodeOf(c, err) == rollout.Throttled:
					throttled++
					retryAfter = rollout.RetryAfterOf(err)
				default:
					t.Fatalf("unexpected error: %v", err)
				}
			}
			return
		}
		describeCall := func() error { _, err := c.Describe(ctx); return err }
		// EC2's non-mutating bucket: 100 at once, then 20 per second.
		if ok, thr, ra := burst(150, describeCall); ok != 100 || thr != 50 || ra != 50*time.Millisecond {
			t.Errorf("describe burst: %d ok, %d throttled, retry after %s; want 100, 50, 50ms", ok, thr, ra)
		}
		time.Sleep(time.Second)
		if ok, thr, _ := burst(30, describeCall); ok != 20 || thr != 10 {
			t.Errorf("a second later: %d ok, %d throttled; want 20, 10", ok, thr)
		}
		// Mutating calls have their own bucket: 50, then 5 per second.
		if ok, thr, ra := burst(60, func() error { return c.Resize(ctx, 0) }); ok != 50 || thr != 10 || ra != 200*time.Millisecond {
			t.Errorf("resize burst: %d ok, %d throttled, retry after %s; want 50, 10, 200ms", ok, thr, ra)
		}
		if got := c.Stats().Throttled; got != 70 {
			t.Errorf("Stats().Throttled = %d, want 70", got)
		}
	})
}

func TestTimeoutMayApply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := newGroup(t, sim.Options{Seed: 3, Faults: sim.Faults{TimeoutRate: 1, TimeoutApplies: 1, Timeout: time.Second}})
		err := c.Resize(t.Context(), 3)
		if rollout.CodeOf(c, err) != rollout.Unavailable {
			t.Fatalf("Resize: %v, want an unavailable timeout", err)
		}
		if s := c.State(); s.Size != 3 || s.Members != 3 {
			t.Errorf("the timed-out resize should have applied: %+v", s)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		c, _ := newGroup(t, sim.Options{Seed: 3, Faults: sim.Faults{TimeoutRate: 1, TimeoutApplies: 0}})
		if err := c.Resize(t.Context(), 3); err == nil {
			t.Fatal("Resize succeeded through a certain timeout")
		}
		if s := c.State(); s.Size != 0 || s.Members != 0 {
			t.Errorf("the timed-out resize should not have applied: %+v", s)
		}
	})
}

func TestFailHook(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("boom")
		var seen []string
		c, _ := newGroup(t, sim.Options{Faults: sim.Faults{Fail: func(call string, n int) error {
			seen = append(seen, call+"#"+strconv.Itoa(n))
			if call == sim.CallResize && n == 1 {
				return boom
			}
			return nil
		}}})
		if err := c.Resize(t.Context(), 2); !errors.Is(err, boom) {
			t.Fatalf("first Resize: %v, want the injected error", err)
		}
		if s := c.State(); s.Size != 0 {
			t.Errorf("a failed call changed the group: %+v", s)
		}
		if err := c.Resize(t.Context(), 2); err != nil {
			t.Fatalf("second Resize: %v", err)
		}
		if got := strings.Join(seen, " "); got != "resize#1 resize#2" {
			t.Errorf("hook saw %s", got)
		}
		if got := c.Calls(); got[sim.CallResize] != 2 || got[sim.CallDescribe] != 0 {
			t.Errorf("Calls() = %v", got)
		}
	})
}

func TestEventualConsistency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := newGroup(t, sim.Options{Terminate: sim.Const(time.Second),
			Faults: sim.Faults{Appear: sim.Const(10 * time.Second), Linger: sim.Const(5 * time.Second)}})
		ctx := t.Context()
		if err := c.Resize(ctx, 1); err != nil {
			t.Fatal(err)
		}
		p := describe(t, c)
		if p.Size != 1 || len(p.Nodes) != 0 {
			t.Fatalf("right after Resize(1): size %d nodes %q; want size 1 and the node not listed yet", p.Size, states(p))
		}
		if s := c.State(); s.Members != 1 {
			t.Errorf("the hidden node should exist: %+v", s)
		}
		time.Sleep(10 * time.Second)
		p = describe(t, c)
		if got := states(p); got != "n-0001:running" {
			t.Fatalf("after 10s: %s", got)
		}
		if err := c.RemoveNodes(ctx, []string{"n-0001"}); err != nil {
			t.Fatal(err)
		}
		p = describe(t, c)
		if got := states(p); p.Size != 0 || got != "n-0001:running" {
			t.Fatalf("right after removal: size %d, %s; want size 0 and the node still shown running", p.Size, got)
		}
		time.Sleep(5 * time.Second)
		if p := describe(t, c); len(p.Nodes) != 0 {
			t.Fatalf("after the linger: %s", states(p))
		}
	})
}

func TestBrokenTemplates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := sim.New(sim.Options{Boot: sim.Const(10 * time.Second), Ready: sim.Const(5 * time.Second),
			CrashAfter: sim.Const(3 * time.Second), SlowReady: time.Hour,
			Broken: sim.BrokenImages(map[string]sim.Mode{"crash": sim.Crash, "sick": sim.Unhealthy, "slow": sim.Slow})})
		ctx, probe := t.Context(), c.Prober()
		grow := func(image string) string {
			tpl, err := c.PrepareTemplate(ctx, rollout.Spec{Image: image})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Create(ctx, tpl); err != nil && rollout.CodeOf(c, err) != rollout.Conflict {
				t.Fatal(err)
			}
			if err := c.UseTemplate(ctx, tpl, ""); err != nil {
				t.Fatal(err)
			}
			if err := c.Resize(ctx, c.State().Size+1); err != nil {
				t.Fatal(err)
			}
			return tpl.ID
		}
		ok, crash, sick, slow := grow("ok"), grow("crash"), grow("sick"), grow("slow")
		check := func(at string, want map[string]string) {
			t.Helper()
			for _, n := range describe(t, c).Nodes {
				got := string(n.State)
				if err := probe.Probe(ctx, n); err == nil {
					got += "+serving"
				} else if strings.Contains(err.Error(), "status 500") {
					got += "+500"
				}
				if got != want[n.Template] {
					t.Errorf("%s: node on %s is %s (%s), want %s", at, n.Template, got, n.Detail, want[n.Template])
				}
			}
		}
		time.Sleep(15 * time.Second)
		check("15s", map[string]string{ok: "running+serving", crash: "running+serving", sick: "running+500", slow: "running"})
		time.Sleep(3 * time.Second)
		check("18s", map[string]string{ok: "running+serving", crash: "failed", sick: "running+500", slow: "running"})
		if n := describe(t, c).Nodes[1]; n.Detail != "exited with status 1" {
			t.Errorf("crashed node detail %q", n.Detail)
		}
		time.Sleep(time.Hour)
		check("1h", map[string]string{ok: "running+serving", crash: "failed", sick: "running+500", slow: "running+serving"})
		s := c.State()
		if s.ByTemplate[crash].Failed != 1 || s.Healthy != 2 {
			t.Errorf("State = %+v", s)
		}
	})
}

func TestGroupSemantics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		c := sim.New(sim.Options{Terminate: sim.Const(time.Minute), Broken: sim.BrokenImages(map[string]sim.Mode{"bad": sim.Crash})})
		a, _ := c.PrepareTemplate(ctx, v1)
		b, _ := c.PrepareTemplate(ctx, v2)
		bad, _ := c.PrepareTemplate(ctx, rollout.Spec{Image: "bad"})
		for name, err := range map[string]error{
			"Describe":    func() error { _, err := c.Describe(ctx); return err }(),
			"UseTemplate": c.UseTemplate(ctx, a, ""),
			"Resize":      c.Resize(ctx, 1),
			"RemoveNodes": c.RemoveNodes(ctx, []string{"x"}),
		} {
			if code := rollout.CodeOf(c, err); code != rollout.NotFound {
				t.Errorf("%s without a group: %v (%s), want not found", name, err, code)
			}
		}
		if err := c.Create(ctx, rollout.Template{ID: "nope"}); rollout.CodeOf(c, err) != rollout.Invalid {
			t.Errorf("Create on an unknown template: %v, want invalid", err)
		}
		if err := c.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
		if err := c.Create(ctx, b); rollout.CodeOf(c, err) != rollout.Conflict {
			t.Errorf("Create over a group on another template: %v, want conflict", err)
		}
		if _, err := c.PrepareTemplate(ctx, rollout.Spec{}); rollout.CodeOf(c, err) != rollout.Invalid {
			t.Errorf("PrepareTemplate without an image: %v, want invalid", err)
		}
		// Two on a, one on bad (which crashes), one on b: scaling in to 1
		// goes failed first, then off-template, then oldest.
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(c.Resize(ctx, 2))
		must(c.UseTemplate(ctx, bad, a.ID))
		must(c.Resize(ctx, 3))
		must(c.UseTemplate(ctx, b, a.ID))
		must(c.Resize(ctx, 4))
		time.Sleep(time.Second)
		if s := c.State(); s.ByTemplate[bad.ID].Failed != 1 {
			t.Fatalf("the bad node should have crashed: %+v", s)
		}
		must(c.Resize(ctx, 3))
		if got := states(describe(t, c)); got != "n-0001:running n-0002:running n-0003:terminating n-0004:running" {
			t.Errorf("scale-in to 3 should take the failed node: %s", got)
		}
		must(c.Resize(ctx, 1))
		if got := states(describe(t, c)); got != "n-0001:terminating n-0002:terminating n-0003:terminating n-0004:running" {
			t.Errorf("scale-in to 1 should keep the node on the group's template: %s", got)
		}
		must(c.RemoveNodes(ctx, []string{"n-0004", "n-0004", "n-0001", "never-existed"}))
		if p := describe(t, c); p.Size != 0 {
			t.Errorf("removing one member (named twice) and two non-members: size %d, want 0", p.Size)
		}
		must(c.Delete(ctx))
		must(c.Delete(ctx))
		if _, err := c.Describe(ctx); rollout.CodeOf(c, err) != rollout.NotFound {
			t.Errorf("Describe after Delete: %v", err)
		}
		if err := c.UseTemplate(ctx, a, ""); rollout.CodeOf(c, err) != rollout.NotFound {
			t.Errorf("templates should go with the group: %v", err)
		}
	})
}

func TestDrainer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := sim.New(sim.Options{Seed: 5})
		d := c.Drainer(sim.Uniform(10*time.Second, 20*time.Second))
		n := rollout.Node{ID: "n-0001"}
		start := time.Now()
		if err := d.Drain(t.Context(), n); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		if took < 10*time.Second || took > 20*time.Second {
			t.Errorf("drain took %s, want 10s..20s", took)
		}
		start = time.Now()
		_ = d.Drain(t.Context(), n)
		if again := time.Since(start); again != took {
			t.Errorf("the same node drained in %s then %s: draws should be keyed by node", took, again)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if err := d.Drain(ctx, n); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("drain past its context: %v", err)
		}
	})
}

func TestDist(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	median := func(d sim.Dist) (lo, mid, hi time.Duration) {
		v := make([]time.Duration, 10001)
		for i := range v {
			v[i] = d.Draw(rng)
		}
		slices.Sort(v)
		return v[0], v[len(v)/2], v[len(v)-1]
	}
	for _, c := range []struct {
		d           sim.Dist
		lo, mid, hi time.Duration // bounds: lo <= min, mid within 5%, max <= hi
	}{
		{sim.Const(3 * time.Second), 3 * time.Second, 3 * time.Second, 3 * time.Second},
		{sim.Uniform(time.Second, 3*time.Second), time.Second, 2 * time.Second, 3 * time.Second},
		{sim.LogNormal(30*time.Second, 0.5, 20*time.Second, 90*time.Second), 20 * time.Second, 30 * time.Second, 90 * time.Second},
		{sim.Dist{}, 0, 0, 0},
	} {
		lo, mid, hi := median(c.d)
		if lo < c.lo || hi > c.hi || hi > c.d.Max() {
			t.Errorf("%s drew %s..%s, want within %s..%s", c.d, lo, hi, c.lo, c.hi)
		}
		if diff := mid - c.mid; diff > c.mid/20 || -diff > c.mid/20 {
			t.Errorf("%s: median %s, want about %s", c.d, mid, c.mid)
		}
	}
}

func TestQuota(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := sim.New(sim.Options{MaxNodes: 3, Terminate: sim.Const(time.Minute)})
		if _, err := c.Populate(rollout.Spec{Image: "v1", Size: 2}); err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		if err := c.Resize(ctx, 4); rollout.CodeOf(c, err) != rollout.Quota {
			t.Fatalf("Resize(4) over a limit of 3: %v, want quota", err)
		}
		if s := c.State(); s.Size != 2 || s.Nodes != 2 {
			t.Errorf("a refused resize changed the group: %+v", s)
		}
		if err := c.Resize(ctx, 3); err != nil {
			t.Fatalf("Resize(3): %v", err)
		}
		// A terminating node still counts against the limit until it is gone.
		if err := c.RemoveNodes(ctx, []string{"n-0001"}); err != nil {
			t.Fatal(err)
		}
		if err := c.Resize(ctx, 3); rollout.CodeOf(c, err) != rollout.Quota {
			t.Errorf("Resize(3) while a removed node terminates: %v, want quota", err)
		}
		time.Sleep(time.Minute)
		if err := c.Resize(ctx, 3); err != nil {
			t.Errorf("Resize(3) once the removed node is gone: %v", err)
		}
	})
}
