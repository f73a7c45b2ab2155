package main

import (
	"context"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/internal/sim"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// Point is the pool at one instant, as plots draw it.
type Point struct {
	T        float64 `json:"t"`        // seconds since the rollout started
	Nodes    int     `json:"nodes"`    // nodes that exist, terminating ones included
	Capacity int     `json:"capacity"` // healthy members not being drained
}

// recorder watches one run: the sim's truth after every API call, which
// nodes are being drained, the heap, and wave boundaries. Capacity counts
// nodes that answer probes and are not draining or drained: a node being
// evacuated serves nothing a scheduler may count on.
type recorder struct {
	mu       sync.Mutex
	start    time.Time
	draining map[string]bool
	// pending is the node set of the RemoveNodes call in flight: the sim's
	// observer fires with call "remove" exactly when a removal takes effect
	// (also when a timed-out call applied anyway), and that is when these
	// nodes stop counting as draining.
	pending []string

	healthy, nodes int // the last snapshot
	points         []Point
	minCapacity    int
	maxNodes       int
	waves          []float64

	memSamples []metrics.Sample
	peakHeap   uint64
	sampleMem  bool
}

func newRecorder(start time.Time, sampleMem bool) *recorder {
	return &recorder{start: start, draining: map[string]bool{}, minCapacity: -1, sampleMem: sampleMem,
		memSamples: []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}}
}

// attach starts watching c. Call it after Populate.
func (r *recorder) attach(c *sim.Cloud) {
	s := c.State()
	r.healthy, r.nodes = s.Healthy, s.Nodes
	r.point(s.Time)
	c.Observe(func(now time.Time, s sim.Snapshot) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if s.Call == sim.CallRemove {
			for _, id := range r.pending {
				delete(r.draining, id)
			}
		}
		r.healthy, r.nodes = s.Healthy, s.Nodes
		r.point(now)
	})
}

// point records the pool now; r.mu held (or no concurrency yet).
func (r *recorder) point(now time.Time) {
	c := r.healthy - len(r.draining)
	p := Point{T: now.Sub(r.start).Seconds(), Nodes: r.nodes, Capacity: c}
	if n := len(r.points); n > 0 && r.points[n-1].Nodes == p.Nodes && r.points[n-1].Capacity == p.Capacity {
		// unchanged: keep the timeline short
	} else if n > 0 && r.points[n-1].T == p.T {
		r.points[n-1] = p
	} else {
		r.points = append(r.points, p)
	}
	if r.minCapacity < 0 || c < r.minCapacity {
		r.minCapacity = c
	}
	r.maxNodes = max(r.maxNodes, r.nodes)
	if r.sampleMem {
		metrics.Read(r.memSamples)
		if v := r.memSamples[0].Value; v.Kind() == metrics.KindUint64 {
			r.peakHeap = max(r.peakHeap, v.Uint64())
		}
	}
}

func (r *recorder) wave(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waves = append(r.waves, now.Sub(r.start).Seconds())
}

func (r *recorder) startDrain(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.draining[id] = true
	r.point(time.Now())
}

// drainer drains node id in drainTime(id) and records it as draining from
// the start until it is removed.
func (r *recorder) drainer(drainTime func(id string) time.Duration) rollout.Drainer {
	return rollout.DrainerFunc(func(ctx context.Context, n rollout.Node) error {
		r.startDrain(n.ID)
		t := time.NewTimer(drainTime(n.ID))
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

// driver wraps the sim so the recorder knows which removal is in flight.
type driver struct {
	*sim.Cloud
	r *recorder
}

func (d driver) RemoveNodes(ctx context.Context, ids []string) error {
	d.r.mu.Lock()
	d.r.pending = ids
	d.r.mu.Unlock()
	err := d.Cloud.RemoveNodes(ctx, ids)
	d.r.mu.Lock()
	d.r.pending = nil
	d.r.mu.Unlock()
	return err
}
