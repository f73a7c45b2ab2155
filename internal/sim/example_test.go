package sim_test

import (
	"context"
	"fmt"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/internal/sim"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// A pool of three nodes on v1 rolled to v2 by the executor. Inside a
// testing/synctest bubble the realistic DefaultOptions timings cost nothing;
// outside one, as here, instant timings keep the example fast.
func Example() {
	cloud := sim.New(sim.Options{Seed: 1})
	if _, err := cloud.Populate(rollout.Spec{Image: "v1", MachineType: "small", Size: 3}); err != nil {
		panic(err)
	}
	s := rollout.DefaultStrategy()
	s.ProbeInterval, s.MinReady, s.HealthyThreshold = time.Millisecond, 0, 1
	e, err := rollout.New(rollout.Options{Driver: cloud, Strategy: s, Prober: cloud.Prober(), Drainer: cloud.Drainer(sim.Const(0))})
	if err != nil {
		panic(err)
	}
	rep, err := e.Apply(context.Background(), rollout.Spec{Image: "v2", MachineType: "small", Size: 3})
	if err != nil {
		panic(err)
	}
	st := cloud.State()
	fmt.Printf("%s: %s -> %s, replaced %d\n", rep.Outcome, rep.From, rep.To, rep.Replaced)
	fmt.Printf("group on %s: %d nodes, %d healthy, %v\n", st.Template, st.Members, st.Healthy, st.ByTemplate)
	// Output:
	// converged: tpl-1 -> tpl-2, replaced 3
	// group on tpl-2: 3 nodes, 3 healthy, map[tpl-2:{3 3 0}]
}
