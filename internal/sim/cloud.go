// Package sim is an in-memory cloud group in virtual time: a rollout.Driver
// for simulation tests, scale tests and benchmarks.
//
// Every node's lifecycle is computed lazily from timestamps drawn when it is
// launched (booted at, ready at, crashed at, gone at), so the cloud runs no
// goroutines and no timers of its own, a Describe of 10,000 nodes is one pass
// over a slice, and inside a testing/synctest bubble minutes of boots and
// drains pass in microseconds. All randomness comes from seeded PCG streams
// keyed by what is drawn (node n's boot, the k-th describe call's fault), so
// one seed gives one timeline whatever order concurrent callers arrive in.
package sim

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// Mode is how nodes of a template behave.
type Mode string

const (
	// Healthy nodes boot, then pass probes.
	Healthy Mode = ""
	// Crash nodes boot and then fail (NodeFailed, "exited with status 1")
	// after Options.CrashAfter of serving; with CrashAfter 0 they never pass
	// a probe.
	Crash Mode = "crash"
	// Unhealthy nodes run but every probe fails with HTTP 500.
	Unhealthy Mode = "unhealthy"
	// Slow nodes run but start answering probes only after
	// Options.SlowReady, far past any sane node deadline.
	Slow Mode = "slow"
)

// BrokenImages is an Options.Broken that breaks templates by image.
func BrokenImages(m map[string]Mode) func(rollout.Template) Mode {
	return func(t rollout.Template) Mode { return m[t.Image] }
}

// Options configure a simulated cloud. Start from DefaultOptions for
// realistic timings; a zero Dist means "instantly".
type Options struct {
	// Name is the group's name (Pool.Name). Default "sim".
	Name string
	// Seed makes every draw repeatable: the same seed and the same calls
	// give the same timeline.
	Seed int64

	Boot       Dist // provisioning -> running
	Ready      Dist // running -> passes probes
	Terminate  Dist // terminating -> gone
	APILatency Dist // every call sleeps this long before it answers
	// CrashAfter is how long a Crash node serves before it dies.
	CrashAfter Dist
	// SlowReady is when a Slow node starts answering, after it runs.
	// Default 24h.
	SlowReady time.Duration

	// Broken says how nodes of a template misbehave; nil: all Healthy.
	Broken func(rollout.Template) Mode
	// Zones nodes are spread over, round robin. Default a, b, c.
	Zones []string
	// MaxNodes is the account's instance limit: a Resize that would make
	// more nodes exist (terminating ones included, as clouds count them)
	// fails with rollout.Quota and changes nothing. 0: no limit.
	MaxNodes int

	Faults Faults
}

// DefaultOptions are timings shaped like a real cloud. Measurements put VM
// boot-to-usable at about 25 s to 2 min: ~25 s for small GCE VMs and the
// "1 to 2 minutes" rule of thumb (R. Aboukhalil, "A Benchmark of VM Boot
// Times on the Google Cloud", 2018), and similar spreads on EC2 and GCE in
// "An Empirical Analysis of VM Startup Times in Public IaaS Clouds" (Hao et
// al., arXiv 2107.03467). Boot (median 35 s, 20-90 s) plus Ready (median
// 10 s, 3-30 s) spans 23 s to 2 min. API calls answer in ~150 ms; a
// terminated VM takes ~20 s to go.
func DefaultOptions() Options {
	return Options{
		Name:       "sim",
		Boot:       LogNormal(35*time.Second, 0.35, 20*time.Second, 90*time.Second),
		Ready:      LogNormal(10*time.Second, 0.5, 3*time.Second, 30*time.Second),
		Terminate:  LogNormal(20*time.Second, 0.4, 5*time.Second, 60*time.Second),
		APILatency: LogNormal(150*time.Millisecond, 0.5, 30*time.Millisecond, 2*time.Second),
		CrashAfter: Uniform(0, 20*time.Second),
	}
}

// Cloud is one simulated cloud account holding at most one group. It
// implements rollout.Driver and rollout.Lifecycle. Safe for concurrent use.
type Cloud struct {
	o Options

	mu        sync.Mutex
	exists    bool // the group exists
	group     rollout.Template
	origin    string
	size      int
	nodes     []*node // launch order; gone nodes are compacted away
	byID      map[string]*node
	templates map[string]rollout.Template // by image+machine type
	tplByID   map[string]rollout.Template
	tplSeq    int
	nodeSeq   uint64
	calls     map[string]int
	buckets   map[string]*bucket
	stats     Stats
	observers []func(time.Time, Snapshot)
}

// node is one simulated VM; its state at any time follows from these stamps.
type node struct {
	id, tpl, addr, zone string
	mode                Mode
	created             time.Time
	visibleAt           time.Time // eventual consistency: Describe shows it from here
	bootAt              time.Time
	readyAt             time.Time // passes probes from here (if mode allows)
	failAt              time.Time // zero: never
	terminate           time.Duration
	linger              time.Duration
	removedAt           time.Time // zero: not removed
	goneAt              time.Time
}

// New returns a cloud with no group; Create or Populate makes one.
func New(o Options) *Cloud {
	if o.Name == "" {
		o.Name = "sim"
	}
	if o.SlowReady == 0 {
		o.SlowReady = 24 * time.Hour
	}
	if len(o.Zones) == 0 {
		o.Zones = []string{"a", "b", "c"}
	}
	return &Cloud{
		o:         o,
		byID:      map[string]*node{},
		templates: map[string]rollout.Template{},
		tplByID:   map[string]rollout.Template{},
		calls:     map[string]int{},
		buckets:   map[string]*bucket{},
		stats:     Stats{Calls: map[string]int{}},
	}
}

var (
	_ rollout.Driver    = (*Cloud)(nil)
	_ rollout.Lifecycle = (*Cloud)(nil)
)

// Call kinds, as counted by Calls.
const (
	CallDescribe    = "describe"
	CallPrepare     = "prepare"
	CallUseTemplate = "use_template"
	CallResize      = "resize"
	CallRemove      = "remove"
	CallCreate      = "create"
	CallDelete      = "delete"
)

func (n *node) removed() bool { return !n.removedAt.IsZero() }

// stateIgnoringRemoval is the node's state had nobody removed it.
func (n *node) stateIgnoringRemoval(t time.Time) rollout.NodeState {
	switch {
	case !n.failAt.IsZero() && !t.Before(n.failAt):
		return rollout.NodeFailed
	case t.Before(n.bootAt):
		return rollout.NodeProvisioning
	}
	return rollout.NodeRunning
}

func (n *node) state(t time.Time) rollout.NodeState {
	if n.removed() && !t.Before(n.removedAt) {
		return rollout.NodeTerminating
	}
	return n.stateIgnoringRemoval(t)
}

func (n *node) gone(t time.Time) bool { return n.removed() && !t.Before(n.goneAt) }

// serving reports whether the node answers probes at t.
func (n *node) serving(t time.Time) bool {
	return n.state(t) == rollout.NodeRunning && n.mode != Unhealthy && !t.Before(n.readyAt)
}

// view is the node as a Describe at t shows it, and whether it shows at all.
// A new node is hidden until visibleAt; a removed node keeps showing its old
// state for linger after removal (both only with eventual consistency on),
// then terminating until it is gone.
func (n *node) view(t time.Time) (rollout.NodeState, bool) {
	if t.Before(n.visibleAt) {
		return "", false
	}
	if n.removed() && t.Before(n.removedAt.Add(n.linger)) {
		return n.stateIgnoringRemoval(n.removedAt), true
	}
	if n.gone(t) {
		return "", false
	}
	return n.state(t), true
}

func (n *node) detail(t time.Time) string {
	switch n.state(t) {
	case rollout.NodeFailed:
		return "exited with status 1"
	case rollout.NodeProvisioning:
		return "pending"
	case rollout.NodeTerminating:
		return "shutting-down"
	}
	return ""
}

// Describe observes the group in one call.
func (c *Cloud) Describe(ctx context.Context) (rollout.Pool, error) {
	var p rollout.Pool
	err := c.do(ctx, CallDescribe, func(now time.Time) error {
		if !c.exists {
			return rollout.Errorf(rollout.NotFound, "sim: group %q not found", c.o.Name)
		}
		c.compact(now)
		p = rollout.Pool{Name: c.o.Name, Template: c.group, Origin: c.origin, Size: c.size,
			Nodes: make([]rollout.Node, 0, len(c.nodes))}
		for _, n := range c.nodes {
			st, ok := n.view(now)
			if !ok {
				continue
			}
			d := ""
			if st != rollout.NodeRunning {
				d = n.detail(now)
			}
			p.Nodes = append(p.Nodes, rollout.Node{ID: n.id, Template: n.tpl, Address: n.addr, Zone: n.zone,
				State: st, CreatedAt: n.created, Detail: d})
		}
		return nil
	})
	if err != nil {
		return rollout.Pool{}, fmt.Errorf("describe group %q: %w", c.o.Name, err)
	}
	return p, nil
}

// compact drops nodes that are gone and no longer shown, in one pass.
func (c *Cloud) compact(now time.Time) {
	keep := c.nodes[:0]
	for _, n := range c.nodes {
		if n.gone(now) && !now.Before(n.removedAt.Add(n.linger)) {
			delete(c.byID, n.id)
			continue
		}
		keep = append(keep, n)
	}
	clear(c.nodes[len(keep):])
	c.nodes = keep
}

// PrepareTemplate returns the template for s's image and machine type,
// making it on first use. IDs are tpl-1, tpl-2, ... in order of creation.
func (c *Cloud) PrepareTemplate(ctx context.Context, s rollout.Spec) (rollout.Template, error) {
	var t rollout.Template
	err := c.do(ctx, CallPrepare, func(time.Time) error {
		var err error
		t, err = c.prepare(s)
		return err
	})
	if err != nil {
		return rollout.Template{}, fmt.Errorf("prepare template for image %q: %w", s.Image, err)
	}
	return t, nil
}

func (c *Cloud) prepare(s rollout.Spec) (rollout.Template, error) {
	if s.Image == "" {
		return rollout.Template{}, rollout.Errorf(rollout.Invalid, "sim: empty image")
	}
	key := s.Image + "\x00" + s.MachineType
	if t, ok := c.templates[key]; ok {
		return t, nil
	}
	c.tplSeq++
	t := rollout.Template{ID: fmt.Sprintf("tpl-%d", c.tplSeq), Image: s.Image, MachineType: s.MachineType}
	c.templates[key] = t
	c.tplByID[t.ID] = t
	return t, nil
}

// TemplateFor returns the template made for s's image and machine type, if
// any, without an API call (for tests and reports).
func (c *Cloud) TemplateFor(s rollout.Spec) (rollout.Template, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.templates[s.Image+"\x00"+s.MachineType]
	return t, ok
}

func (c *Cloud) known(t rollout.Template) error {
	if _, ok := c.tplByID[t.ID]; !ok {
		return rollout.Errorf(rollout.Invalid, "sim: template %q does not exist", t.ID)
	}
	return nil
}

func (c *Cloud) notFound() error {
	return rollout.Errorf(rollout.NotFound, "sim: group %q not found", c.o.Name)
}

// UseTemplate points the group at t and records origin.
func (c *Cloud) UseTemplate(ctx context.Context, t rollout.Template, origin string) error {
	err := c.do(ctx, CallUseTemplate, func(time.Time) error {
		if !c.exists {
			return c.notFound()
		}
		if err := c.known(t); err != nil {
			return err
		}
		c.group = c.tplByID[t.ID]
		c.origin = origin
		return nil
	})
	if err != nil {
		return fmt.Errorf("point group %q at template %s: %w", c.o.Name, t.ID, err)
	}
	return nil
}

// Resize sets the desired size. Growing launches nodes on the group's
// template at once. Shrinking terminates nodes the way clouds' default
// policies do: failed nodes first, then nodes on other templates than the
// group's, then the oldest.
func (c *Cloud) Resize(ctx context.Context, size int) error {
	err := c.do(ctx, CallResize, func(now time.Time) error {
		if !c.exists {
			return c.notFound()
		}
		if size < 0 {
			return rollout.Errorf(rollout.Invalid, "sim: size %d is negative", size)
		}
		if err := c.quota(now, size); err != nil {
			return err
		}
		c.resize(now, size)
		return nil
	})
	if err != nil {
		return fmt.Errorf("resize group %q to %d: %w", c.o.Name, size, err)
	}
	return nil
}

// quota refuses a resize that would launch past Options.MaxNodes.
func (c *Cloud) quota(now time.Time, size int) error {
	if c.o.MaxNodes <= 0 {
		return nil
	}
	exist, members := 0, 0
	for _, n := range c.nodes {
		if !n.gone(now) {
			exist++
		}
		if !n.removed() {
			members++
		}
	}
	if add := size - members; add > 0 && exist+add > c.o.MaxNodes {
		return rollout.Errorf(rollout.Quota, "sim: launching %d node(s) would make %d, over the instance limit of %d", add, exist+add, c.o.MaxNodes)
	}
	return nil
}

func (c *Cloud) resize(now time.Time, size int) {
	var members []*node
	for _, n := range c.nodes {
		if !n.removed() {
			members = append(members, n)
		}
	}
	c.size = size
	if extra := len(members) - size; extra > 0 {
		rank := func(n *node) int {
			switch {
			case n.state(now) == rollout.NodeFailed:
				return 0
			case n.tpl != c.group.ID:
				return 1
			}
			return 2
		}
		sort.SliceStable(members, func(i, j int) bool { return rank(members[i]) < rank(members[j]) })
		for _, n := range members[:extra] {
			c.terminate(now, n)
		}
		return
	}
	for range size - len(members) {
		c.launch(now, c.group, false)
	}
}

// launch starts one node on t. ready launches it already serving (Populate).
func (c *Cloud) launch(now time.Time, t rollout.Template, ready bool) *node {
	c.nodeSeq++
	seq := c.nodeSeq
	r := stream(c.o.Seed, "node", seq)
	n := &node{
		id:      fmt.Sprintf("n-%04d", seq),
		tpl:     t.ID,
		addr:    fmt.Sprintf("10.%d.%d.%d", (seq>>16)&0xff, (seq>>8)&0xff, seq&0xff),
		zone:    c.o.Zones[int(seq-1)%len(c.o.Zones)],
		created: now,
	}
	if c.o.Broken != nil {
		n.mode = c.o.Broken(t)
	}
	boot, warm := c.o.Boot.Draw(r), c.o.Ready.Draw(r)
	crash := c.o.CrashAfter.Draw(r)
	n.terminate = c.o.Terminate.Draw(r)
	n.visibleAt = now.Add(c.o.Faults.Appear.Draw(r))
	n.linger = c.o.Faults.Linger.Draw(r)
	if ready {
		boot, warm, n.visibleAt = 0, 0, now
	}
	n.bootAt = now.Add(boot)
	n.readyAt = n.bootAt.Add(warm)
	switch n.mode {
	case Crash:
		n.failAt = n.readyAt.Add(crash)
		if crash == 0 {
			n.readyAt = n.failAt.Add(time.Nanosecond) // never serves
		}
	case Slow:
		n.readyAt = n.bootAt.Add(c.o.SlowReady)
	}
	c.nodes = append(c.nodes, n)
	c.byID[n.id] = n
	c.stats.Launched++
	return n
}

func (c *Cloud) terminate(now time.Time, n *node) {
	n.removedAt = now
	n.goneAt = now.Add(n.terminate)
	c.stats.Removed++
}

// RemoveNodes terminates exactly the named nodes and shrinks the desired
// size by the number that were still members. Unknown, terminating and gone
// nodes are skipped, so a retried call changes nothing.
func (c *Cloud) RemoveNodes(ctx context.Context, ids []string) error {
	err := c.do(ctx, CallRemove, func(now time.Time) error {
		if !c.exists {
			return c.notFound()
		}
		for _, id := range ids {
			n, ok := c.byID[id]
			if !ok || n.removed() {
				continue
			}
			c.terminate(now, n)
			c.size--
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove %d nodes from group %q: %w", len(ids), c.o.Name, err)
	}
	return nil
}

// ErrorCode classifies errors; the sim returns *rollout.Error for every
// failure it makes, so anything else is Unknown.
func (c *Cloud) ErrorCode(err error) rollout.ErrorCode {
	var e *rollout.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return rollout.Unknown
}

// Create makes the group pointing at t with size 0. An existing group on
// the same template is fine; on another template it is a Conflict.
func (c *Cloud) Create(ctx context.Context, t rollout.Template) error {
	err := c.do(ctx, CallCreate, func(time.Time) error {
		if err := c.known(t); err != nil {
			return err
		}
		if c.exists {
			if c.group.ID != t.ID {
				return rollout.Errorf(rollout.Conflict, "sim: group %q exists on template %s", c.o.Name, c.group.ID)
			}
			return nil
		}
		c.exists, c.group, c.origin, c.size = true, c.tplByID[t.ID], "", 0
		return nil
	})
	if err != nil {
		return fmt.Errorf("create group %q: %w", c.o.Name, err)
	}
	return nil
}

// Delete removes the group, any nodes left in it and its templates. A group
// that is gone is fine.
func (c *Cloud) Delete(ctx context.Context) error {
	err := c.do(ctx, CallDelete, func(time.Time) error {
		if !c.exists {
			return nil
		}
		c.exists, c.group, c.origin, c.size = false, rollout.Template{}, "", 0
		c.nodes, c.byID = nil, map[string]*node{}
		c.templates, c.tplByID = map[string]rollout.Template{}, map[string]rollout.Template{}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete group %q: %w", c.o.Name, err)
	}
	return nil
}

// Populate makes the group (if needed) on the template for spec with
// spec.Size nodes already running and serving, as a pool that existed before
// the test. It makes no API call and meets no fault.
func (c *Cloud) Populate(spec rollout.Spec) (rollout.Template, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	t, err := c.prepare(spec)
	if err != nil {
		return rollout.Template{}, fmt.Errorf("populate: %w", err)
	}
	if !c.exists {
		c.exists, c.origin, c.size = true, "", 0
	}
	c.group = t
	for range spec.Size {
		c.launch(now, t, true)
	}
	c.size += spec.Size
	c.notify(now, "populate")
	return t, nil
}
