package sim_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/internal/sim"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
	"github.com/noderoll/terraform-provider-noderoll/rollout/drivertest"
)

func harness(faults sim.Faults) drivertest.Harness {
	var cloud *sim.Cloud
	broken := rollout.Spec{Image: "broken", MachineType: "small"}
	return drivertest.Harness{
		New: func(t *testing.T) (rollout.Driver, rollout.Prober) {
			o := sim.DefaultOptions()
			o.Seed = 7
			o.Broken = sim.BrokenImages(map[string]sim.Mode{"broken": sim.Crash})
			o.Faults = faults
			cloud = sim.New(o)
			return cloud, cloud.Prober()
		},
		Spec: func(i int) rollout.Spec {
			return rollout.Spec{Image: fmt.Sprintf("img-%d", i), MachineType: "small"}
		},
		Broken:   &broken,
		Synctest: true,
		APICalls: func() int { return cloud.Calls()[sim.CallDescribe] },
	}
}

func TestConformance(t *testing.T) {
	drivertest.Run(t, harness(sim.Faults{}))
}

// TestConformanceFaulty runs the suite against a cloud that throttles, fails,
// times out (sometimes after applying the change) and reads eventually
// consistent: the contract must still hold through the suite's retries.
func TestConformanceFaulty(t *testing.T) {
	h := harness(sim.Faults{
		Throttle:       true,
		DescribeBucket: sim.Bucket{Capacity: 5, Refill: 1},
		MutateBucket:   sim.Bucket{Capacity: 3, Refill: 0.5},
		ErrorRate:      0.1,
		TimeoutRate:    0.05,
		Timeout:        5 * time.Second,
		TimeoutApplies: 0.5,
		Appear:         sim.Uniform(0, 10*time.Second),
		Linger:         sim.Uniform(0, 10*time.Second),
	})
	h.APICalls = nil // faulted describes are retried, so the count varies
	drivertest.Run(t, h)
}
