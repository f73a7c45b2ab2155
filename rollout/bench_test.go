package rollout_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// midRollout is a 10,000-node pool a quarter of the way through a rollout
// with 25% surge: 7,500 old nodes available, 2,500 new ones of which half
// are available, a tenth of the old ones draining.
func midRollout() rollout.Observation {
	const size = 10000
	s := rollout.DefaultStrategy()
	s.MaxSurge = rollout.Percent(25)
	o := rollout.Observation{
		Now:    time.Unix(3600, 0),
		Pool:   rollout.Pool{Template: rollout.Template{ID: "tpl-2"}, Size: size + 2500},
		Target: rollout.Template{ID: "tpl-2"}, Size: size, Budget: s.Resolve(size), MaxNew: size,
	}
	for i := range size {
		v := rollout.NodeView{Node: rollout.Node{ID: fmt.Sprintf("n-%05d", i+1), Template: "tpl-1", State: rollout.NodeRunning,
			Address: fmt.Sprintf("10.0.%d.%d", i/256, i%256), CreatedAt: time.Unix(int64(i%97), 0)}, Available: true}
		if i < 2500 {
			continue // replaced already
		}
		if i < 3250 {
			v.Available, v.Draining = false, true
		}
		o.Nodes = append(o.Nodes, v)
	}
	for i := range 2500 {
		v := rollout.NodeView{Node: rollout.Node{ID: fmt.Sprintf("n-%05d", size+i+1), Template: "tpl-2", State: rollout.NodeRunning,
			CreatedAt: time.Unix(int64(3000+i%300), 0)}, Available: i%2 == 0}
		if i%5 == 1 {
			v.State = rollout.NodeProvisioning
		}
		o.Nodes = append(o.Nodes, v)
	}
	return o
}

// BenchmarkDecide10k is one planner step on a 10,000-node pool: the
// executor runs it once per tick and per drained node.
func BenchmarkDecide10k(b *testing.B) {
	o := midRollout()
	if in := rollout.Decide(o); len(in) == 0 {
		b.Fatal("no intents")
	}
	b.ReportAllocs()
	for b.Loop() {
		rollout.Decide(o)
	}
}

func benchPreview(b *testing.B, size int, surge rollout.IntOrPercent) {
	pool := rollout.Pool{Template: rollout.Template{ID: "tpl-1", Image: "v1", MachineType: "m"}, Size: size}
	for i := range size {
		pool.Nodes = append(pool.Nodes, rollout.Node{ID: fmt.Sprintf("n-%05d", i+1), Template: "tpl-1", State: rollout.NodeRunning})
	}
	s := rollout.DefaultStrategy()
	s.MaxSurge = surge
	spec := rollout.Spec{Size: size, Image: "v2", MachineType: "m"}
	t := rollout.Timings{NodeReady: 90 * time.Second, Drain: 30 * time.Second}
	if p := rollout.Preview(pool, spec, s, t); p.Action != "roll" || p.Replace != size {
		b.Fatalf("preview: %+v", p)
	}
	b.ReportAllocs()
	for b.Loop() {
		rollout.Preview(pool, spec, s, t)
	}
}

// BenchmarkPreview is what `terraform plan` pays to render a rollout.
func BenchmarkPreview(b *testing.B) {
	for _, c := range []struct {
		size  int
		surge rollout.IntOrPercent
	}{{100, rollout.Count(1)}, {1000, rollout.Percent(25)}, {10000, rollout.Percent(25)}} {
		b.Run(fmt.Sprintf("nodes=%d/surge=%s", c.size, c.surge), func(b *testing.B) { benchPreview(b, c.size, c.surge) })
	}
}
