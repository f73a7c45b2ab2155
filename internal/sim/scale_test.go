package sim_test

import (
	"context"
	"testing"

	"github.com/noderoll/terraform-provider-noderoll/internal/sim"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// TestDescribeCostIsFlat checks a Describe of 10,000 nodes allocates the
// same handful of times as one of 10: one slice per call, nothing per node.
func TestDescribeCostIsFlat(t *testing.T) {
	allocs := func(size int) float64 {
		c := sim.New(sim.Options{})
		if _, err := c.Populate(rollout.Spec{Image: "v1", Size: size}); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		return testing.AllocsPerRun(20, func() {
			p, err := c.Describe(ctx)
			if err != nil || len(p.Nodes) != size {
				t.Fatalf("Describe: %d nodes, %v", len(p.Nodes), err)
			}
		})
	}
	small, large := allocs(10), allocs(10000)
	if large != small || large > 5 {
		t.Errorf("Describe allocates %.0f times at 10 nodes and %.0f at 10,000: want the same few", small, large)
	}
}

func BenchmarkDescribe10k(b *testing.B) {
	c := sim.New(sim.Options{})
	if _, err := c.Populate(rollout.Spec{Image: "v1", Size: 10000}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Describe(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
