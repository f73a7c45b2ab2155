package rollout_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// memDriver is a minimal in-memory group for the engine's own tests: nodes
// boot after a fixed delay and serve unless their image is broken. It checks
// the surge invariant on every mutation. The full simulated cloud, with
// latency distributions and faults, is internal/sim.
type memDriver struct {
	mu        sync.Mutex
	t         *testing.T
	boot      time.Duration
	broken    map[string]string // image -> "crash" | "unhealthy"
	templates map[string]rollout.Template
	group     rollout.Template
	origin    string
	size      int
	nodes     map[string]*memNode
	seq       int
	maxNodes  int // size + surge, checked on every mutation when > 0
	calls     map[string]int
	created   bool
}

type memNode struct {
	rollout.Node
	bootAt time.Time
}

func newMemDriver(t *testing.T, boot time.Duration) *memDriver {
	return &memDriver{t: t, boot: boot, broken: map[string]string{}, templates: map[string]rollout.Template{},
		nodes: map[string]*memNode{}, calls: map[string]int{}}
}

func (d *memDriver) Describe(ctx context.Context) (rollout.Pool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls["describe"]++
	if !d.created {
		return rollout.Pool{}, rollout.Errorf(rollout.NotFound, "group not found")
	}
	p := rollout.Pool{Name: "mem", Template: d.group, Origin: d.origin, Size: d.size}
	now := time.Now()
	for _, n := range d.nodes {
		node := n.Node
		if node.State == rollout.NodeProvisioning && !now.Before(n.bootAt) {
			node.State = rollout.NodeRunning
			if d.broken[d.templates[node.Template].Image] == "crash" {
				node.State, node.Detail = rollout.NodeFailed, "exited with status 1"
			}
			n.Node = node
		}
		p.Nodes = append(p.Nodes, node)
	}
	sort.Slice(p.Nodes, func(i, j int) bool { return p.Nodes[i].ID < p.Nodes[j].ID })
	return p, nil
}

func (d *memDriver) PrepareTemplate(ctx context.Context, s rollout.Spec) (rollout.Template, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls["prepare"]++
	t := rollout.Template{ID: "tpl-" + s.Image + "-" + s.MachineType, Image: s.Image, MachineType: s.MachineType}
	d.templates[t.ID] = t
	return t, nil
}

func (d *memDriver) UseTemplate(ctx context.Context, t rollout.Template, origin string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls["use_template"]++
	d.group, d.origin = d.templates[t.ID], origin
	if d.group.ID == "" {
		return rollout.Errorf(rollout.Invalid, "unknown template %s", t.ID)
	}
	return nil
}

func (d *memDriver) Resize(ctx context.Context, size int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls["resize"]++
	for d.size < size {
		d.seq++
		id := fmt.Sprintf("n%03d", d.seq)
		d.nodes[id] = &memNode{Node: rollout.Node{ID: id, Template: d.group.ID, Address: fmt.Sprintf("127.0.0.%d", d.seq), State: rollout.NodeProvisioning, CreatedAt: time.Now()}, bootAt: time.Now().Add(d.boot)}
		d.size++
	}
	d.size = size
	d.check()
	return nil
}

func (d *memDriver) RemoveNodes(ctx context.Context, ids []string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls["remove"]++
	for _, id := range ids {
		if _, ok := d.nodes[id]; ok {
			delete(d.nodes, id)
			d.size--
		}
	}
	return nil
}

func (d *memDriver) ErrorCode(err error) rollout.ErrorCode { return rollout.Unknown }

func (d *memDriver) Create(ctx context.Context, t rollout.Template) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.created, d.group = true, d.templates[t.ID]
	return nil
}

func (d *memDriver) Delete(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.created = false
	return nil
}

func (d *memDriver) check() {
	if d.maxNodes > 0 && len(d.nodes) > d.maxNodes {
		d.t.Errorf("invariant: %d nodes exist, at most %d allowed", len(d.nodes), d.maxNodes)
	}
}

// prober answers for running nodes whose image is not broken.
func (d *memDriver) prober() rollout.Prober {
	return rollout.ProberFunc(func(ctx context.Context, n rollout.Node) error {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.broken[d.templates[n.Template].Image] == "unhealthy" {
			return fmt.Errorf("GET http://%s:8080/healthz: status 500", n.Address)
		}
		return nil
	})
}

// healthy counts nodes that serve now (running, not broken).
func (d *memDriver) healthy() (healthy, total int, templates map[string]int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	templates = map[string]int{}
	now := time.Now()
	for _, n := range d.nodes {
		total++
		templates[n.Template]++
		if !now.Before(n.bootAt) && d.broken[d.templates[n.Template].Image] == "" {
			healthy++
		}
	}
	return healthy, total, templates
}
