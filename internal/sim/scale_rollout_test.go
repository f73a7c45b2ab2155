package sim_test

import (
	"flag"
	"testing"
	"testing/synctest"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/internal/sim"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

var scaleNodes = flag.Int("scale", 500, "TestScaleRollout: pool size (10000 for the full scale run)")

// TestScaleRollout rolls a large pool in virtual time and checks what scale
// must not change: invariants at every step, one Describe per tick whatever
// the pool's size (calls grow with time, not with nodes), and a converged end.
// The figures it logs are what benchmarks compare.
func TestScaleRollout(t *testing.T) {
	size := *scaleNodes
	if testing.Short() {
		size = 200
	}
	synctest.Test(t, func(t *testing.T) {
		s := strategy(rollout.Percent(10), rollout.Count(0))
		s.ProbeInterval = 10 * time.Second
		w := newWorld(t, cloudOptions(1, nil), s, size)
		wall := time.Now()
		rep, err := w.executor(nil).Apply(t.Context(), spec("v2", size))
		if err != nil {
			t.Fatalf("%v", err)
		}
		w.invariantsHeld()
		w.settledOn(w.templateID("v2"))
		st := w.cloud.Stats()
		took := time.Since(wall)
		ticks := int(took/s.ProbeInterval) + 1
		describes := st.Calls[sim.CallDescribe]
		// One describe per tick, plus early wakes: today the executor wakes
		// when a drain finishes and again after removing the node, so about
		// two extra describes per node replaced. What must never happen is
		// a describe per node per tick (ticks x nodes).
		if limit := ticks + 3*st.Removed + 10; describes > limit {
			t.Errorf("%d describe calls in %d ticks of %s with %d nodes removed: want at most %d", describes, ticks, s.ProbeInterval, st.Removed, limit)
		}
		mutating := st.Calls[sim.CallResize] + st.Calls[sim.CallRemove]
		t.Logf("%d nodes: %s virtual in %d waves (%d ticks); %d describe, %d resize, %d remove calls (%.3f mutating calls per node); peak %d nodes; %d probes",
			size, rep.Duration().Round(time.Second), rep.Waves, ticks, describes, st.Calls[sim.CallResize], st.Calls[sim.CallRemove],
			float64(mutating)/float64(size), st.PeakNodes, st.Probes)
	})
}
