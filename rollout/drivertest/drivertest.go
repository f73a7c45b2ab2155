// Package drivertest is the conformance suite every noderoll backend runs.
// It checks a rollout.Driver against the contract in package rollout through
// the driver's public methods only, so the same cases hold on the simulated
// cloud, local processes and the wire-level fakes of real clouds.
//
// A backend's test calls Run with a Harness:
//
//	func TestConformance(t *testing.T) {
//		drivertest.Run(t, drivertest.Harness{
//			New: func(t *testing.T) (rollout.Driver, rollout.Prober) {
//				d := mybackend.New(...)       // a fresh, empty group for this case
//				t.Cleanup(func() { ... })     // stop whatever New started
//				return d, d.Prober()
//			},
//			Spec: func(i int) rollout.Spec {
//				return rollout.Spec{Image: fmt.Sprintf("img-%d", i), MachineType: "small"}
//			},
//		})
//	}
//
// The suite never sleeps a fixed time to let the cloud catch up: it polls
// Describe with a short wait until a condition holds or Harness.Timeout
// passes. Inside a synctest bubble (Harness.Synctest) those waits are
// virtual, so a simulated boot of minutes takes microseconds.
package drivertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// Harness tells the suite how to make and judge a backend.
type Harness struct {
	// New returns a driver over a fresh group that no other case touches,
	// and a prober that answers for that group's nodes. If the driver
	// implements rollout.Lifecycle the group may not exist yet: the suite
	// creates it. Otherwise the group must exist (any template, size 0) and
	// the suite points it at its own template first. New registers its own
	// cleanup with t.Cleanup. Required.
	New func(t *testing.T) (rollout.Driver, rollout.Prober)

	// Spec returns the i-th test spec (i = 0, 1, 2). Specs with different i
	// must differ in image or machine type, and each must make nodes that
	// become healthy. Size is ignored. Required.
	Spec func(i int) rollout.Spec

	// Broken, when set, is a spec whose nodes never become healthy: they
	// crash (NodeFailed) or keep failing the prober. Nil skips that case.
	Broken *rollout.Spec

	// Synctest runs every case inside a testing/synctest bubble, so polling
	// waits and the backend's own timers run in virtual time. Only for
	// backends that start no real processes or network I/O (the simulated
	// cloud).
	Synctest bool

	// Timeout bounds each wait for the cloud: nodes reaching running and
	// passing the prober, removed nodes disappearing. Default 5 minutes.
	Timeout time.Duration

	// Poll is the wait between two observations while waiting. Default 1s.
	Poll time.Duration

	// BrokenWindow is how long a node of the Broken spec is watched to show
	// that it never passes the prober. Default: Timeout.
	BrokenWindow time.Duration

	// APICalls, when set, returns how many cloud API requests the driver has
	// made so far. The suite uses it to check that one Describe costs the
	// same number of requests whatever the pool's size (one call, or one
	// paginated call, per observation; never one per node).
	APICalls func() int
}

func (h Harness) timeout() time.Duration {
	if h.Timeout > 0 {
		return h.Timeout
	}
	return 5 * time.Minute
}

func (h Harness) poll() time.Duration {
	if h.Poll > 0 {
		return h.Poll
	}
	return time.Second
}

func (h Harness) brokenWindow() time.Duration {
	if h.BrokenWindow > 0 {
		return h.BrokenWindow
	}
	return h.timeout()
}

// Run runs every conformance case as a subtest of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.Spec == nil {
		t.Fatal("drivertest: Harness.New and Harness.Spec are required")
	}
	cases := []struct {
		name string
		fn   func(*testing.T, *suite)
	}{
		{"ErrorCode", testErrorCode},
		{"Lifecycle", testLifecycle},
		{"PrepareTemplate", testPrepareTemplate},
		{"UseTemplate", testUseTemplate},
		{"ResizeUp", testResizeUp},
		{"ResizeIdempotent", testResizeIdempotent},
		{"ResizeDown", testResizeDown},
		{"RemoveNodes", testRemoveNodes},
		{"MixedTemplates", testMixedTemplates},
		{"BrokenSpec", testBrokenSpec},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := func(t *testing.T) {
				d, p := h.New(t)
				if d == nil || p == nil {
					t.Fatal("Harness.New returned a nil driver or prober")
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				c.fn(t, &suite{ctx: ctx, h: h, d: d, p: p})
			}
			if h.Synctest {
				synctest.Test(t, body)
			} else {
				body(t)
			}
		})
	}
}

// suite is one case's driver, prober and harness.
type suite struct {
	ctx context.Context // bounds the case's cloud calls
	h   Harness
	d   rollout.Driver
	p   rollout.Prober
}

// retry runs op until it succeeds, fails with an error the driver classifies
// as not retryable, or Timeout passes. Backends under test may be throttled
// or see transient 5xx; the contract says every method is safe to repeat.
func (s *suite) retry(t *testing.T, what string, op func(ctx context.Context) error) error {
	t.Helper()
	ctx := s.ctx
	deadline := time.Now().Add(s.h.timeout())
	wait := s.h.poll() / 4
	for {
		err := op(ctx)
		if err == nil {
			return nil
		}
		code := rollout.CodeOf(s.d, err)
		if !code.Retryable() || time.Now().After(deadline) {
			return fmt.Errorf("%s: %w (class %s)", what, err, code)
		}
		w := max(wait, rollout.RetryAfterOf(err))
		time.Sleep(w)
		wait = min(2*wait, 4*s.h.poll())
	}
}

// must is retry that fails the test on error.
func (s *suite) must(t *testing.T, what string, op func(ctx context.Context) error) {
	t.Helper()
	if err := s.retry(t, what, op); err != nil {
		t.Fatal(err)
	}
}

func (s *suite) describe(t *testing.T) rollout.Pool {
	t.Helper()
	var p rollout.Pool
	s.must(t, "Describe", func(ctx context.Context) error {
		var err error
		p, err = s.d.Describe(ctx)
		return err
	})
	return p
}

func (s *suite) prepare(t *testing.T, i int) rollout.Template {
	t.Helper()
	var tpl rollout.Template
	spec := s.h.Spec(i)
	s.must(t, fmt.Sprintf("PrepareTemplate(spec %d)", i), func(ctx context.Context) error {
		var err error
		tpl, err = s.d.PrepareTemplate(ctx, spec)
		return err
	})
	return tpl
}

func (s *suite) useTemplate(t *testing.T, tpl rollout.Template, origin string) {
	t.Helper()
	s.must(t, fmt.Sprintf("UseTemplate(%s, %q)", tpl.ID, origin), func(ctx context.Context) error {
		return s.d.UseTemplate(ctx, tpl, origin)
	})
}

func (s *suite) resize(t *testing.T, n int) {
	t.Helper()
	s.must(t, fmt.Sprintf("Resize(%d)", n), func(ctx context.Context) error { return s.d.Resize(ctx, n) })
}

func (s *suite) remove(t *testing.T, ids ...string) {
	t.Helper()
	s.must(t, fmt.Sprintf("RemoveNodes(%v)", ids), func(ctx context.Context) error { return s.d.RemoveNodes(ctx, ids) })
}

// group makes sure the case's group exists and points at tpl with no origin.
func (s *suite) group(t *testing.T, tpl rollout.Template) {
	t.Helper()
	if lc, ok := s.d.(rollout.Lifecycle); ok {
		s.must(t, "Create", func(ctx context.Context) error { return lc.Create(ctx, tpl) })
	}
	s.useTemplate(t, tpl, "")
}

// members are the nodes that count toward the group's size: everything the
// cloud reports except nodes already on their way out.
func members(p rollout.Pool) []rollout.Node {
	var out []rollout.Node
	for _, n := range p.Nodes {
		if n.State != rollout.NodeTerminating {
			out = append(out, n)
		}
	}
	return out
}

// healthy reports whether n is running and passes the prober.
func (s *suite) healthy(t *testing.T, n rollout.Node) bool {
	if n.State != rollout.NodeRunning {
		return false
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	return s.p.Probe(ctx, n) == nil
}

// waitFor polls Describe until cond accepts the pool or Timeout passes.
func (s *suite) waitFor(t *testing.T, what string, cond func(rollout.Pool) bool) rollout.Pool {
	t.Helper()
	deadline := time.Now().Add(s.h.timeout())
	for {
		p := s.describe(t)
		if cond(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s still waiting for %s; last observation:\n%s", s.h.timeout(), what, format(p))
		}
		time.Sleep(s.h.poll())
	}
}

// waitHealthy waits until the group has exactly n members, all on their
// expected templates (when want is non-nil), running and passing the prober.
func (s *suite) waitHealthy(t *testing.T, n int) rollout.Pool {
	t.Helper()
	return s.waitFor(t, fmt.Sprintf("%d running nodes passing the prober", n), func(p rollout.Pool) bool {
		m := members(p)
		if len(m) != n || len(p.Nodes) != n {
			return false
		}
		for _, node := range m {
			if !s.healthy(t, node) {
				return false
			}
		}
		return true
	})
}

// healthyGroup makes the case's group on template i with n healthy nodes.
func (s *suite) healthyGroup(t *testing.T, i, n int) (rollout.Template, rollout.Pool) {
	t.Helper()
	tpl := s.prepare(t, i)
	s.group(t, tpl)
	s.resize(t, n)
	return tpl, s.waitHealthy(t, n)
}

func format(p rollout.Pool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  group %q template=%s origin=%q size=%d nodes=%d\n", p.Name, p.Template.ID, p.Origin, p.Size, len(p.Nodes))
	for _, n := range p.Nodes {
		fmt.Fprintf(&b, "  - %s template=%s address=%s state=%s health=%q %s\n", n.ID, n.Template, n.Address, n.State, n.CloudHealth, n.Detail)
	}
	return b.String()
}

func testErrorCode(t *testing.T, s *suite) {
	if c := s.d.ErrorCode(nil); c != rollout.Unknown {
		t.Errorf("ErrorCode(nil) = %s, want unknown", c)
	}
	if c := s.d.ErrorCode(errors.New("something nobody classified")); c != rollout.Unknown {
		t.Errorf("ErrorCode(plain error) = %s, want unknown", c)
	}
	if c := s.d.ErrorCode(fmt.Errorf("wrapped: %w", errors.New("still unclassified"))); c != rollout.Unknown {
		t.Errorf("ErrorCode(wrapped plain error) = %s, want unknown", c)
	}
}

func testLifecycle(t *testing.T, s *suite) {
	lc, ok := s.d.(rollout.Lifecycle)
	if !ok {
		t.Skip("driver does not implement rollout.Lifecycle")
	}
	tpl := s.prepare(t, 0)
	s.must(t, "Create", func(ctx context.Context) error { return lc.Create(ctx, tpl) })
	s.must(t, "Create again with the same template", func(ctx context.Context) error { return lc.Create(ctx, tpl) })
	p := s.describe(t)
	if p.Template.ID != tpl.ID {
		t.Errorf("after Create, Describe().Template.ID = %q, want %q", p.Template.ID, tpl.ID)
	}
	if p.Size != 0 || len(p.Nodes) != 0 {
		t.Errorf("after Create, size %d with %d nodes, want an empty group:\n%s", p.Size, len(p.Nodes), format(p))
	}
	if p.Origin != "" {
		t.Errorf("after Create, Origin = %q, want empty", p.Origin)
	}
	s.resize(t, 1)
	s.waitHealthy(t, 1)
	s.must(t, "Delete", func(ctx context.Context) error { return lc.Delete(ctx) })
	s.must(t, "Delete again", func(ctx context.Context) error { return lc.Delete(ctx) })
	var err error
	deadline := time.Now().Add(s.h.timeout())
	for {
		err = s.retry(t, "Describe after Delete", func(ctx context.Context) error {
			_, err := s.d.Describe(ctx)
			return err
		})
		if err != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(s.h.poll()) // deleting a group may take the cloud a while
	}
	if err == nil {
		t.Fatal("Describe after Delete succeeded, want a NotFound error")
	}
	if c := rollout.CodeOf(s.d, err); c != rollout.NotFound {
		t.Errorf("Describe after Delete: %v classified %s, want not found", err, c)
	}
}

func testPrepareTemplate(t *testing.T, s *suite) {
	a := s.prepare(t, 0)
	again := s.prepare(t, 0)
	b := s.prepare(t, 1)
	if a.ID == "" || b.ID == "" {
		t.Fatalf("PrepareTemplate returned an empty ID: %+v, %+v", a, b)
	}
	if a.ID != again.ID {
		t.Errorf("PrepareTemplate is not idempotent: same spec gave %q then %q", a.ID, again.ID)
	}
	if a.ID == b.ID {
		t.Errorf("different specs share template %q", a.ID)
	}
	for i, tpl := range []rollout.Template{a, b} {
		spec := s.h.Spec(i)
		if tpl.Image != spec.Image || tpl.MachineType != spec.MachineType {
			t.Errorf("template for spec %d = image %q machine type %q, want %q %q", i, tpl.Image, tpl.MachineType, spec.Image, spec.MachineType)
		}
	}
}

func testUseTemplate(t *testing.T, s *suite) {
	a := s.prepare(t, 0)
	b := s.prepare(t, 1)
	s.group(t, a)
	if p := s.describe(t); p.Template.ID != a.ID || p.Origin != "" {
		t.Fatalf("after UseTemplate(%s, \"\"): template %q origin %q", a.ID, p.Template.ID, p.Origin)
	}
	for range 2 { // twice: a repeated call changes nothing
		s.useTemplate(t, b, a.ID)
		p := s.describe(t)
		if p.Template.ID != b.ID {
			t.Errorf("after UseTemplate(%s, %s): Template.ID = %q", b.ID, a.ID, p.Template.ID)
		}
		if p.Origin != a.ID {
			t.Errorf("after UseTemplate(%s, %s): Origin = %q, want %q", b.ID, a.ID, p.Origin, a.ID)
		}
	}
	s.useTemplate(t, b, "")
	if p := s.describe(t); p.Template.ID != b.ID || p.Origin != "" {
		t.Errorf("after UseTemplate(%s, \"\"): template %q origin %q, want %q and no origin", b.ID, p.Template.ID, p.Origin, b.ID)
	}
}

func testResizeUp(t *testing.T, s *suite) {
	tpl, p := s.healthyGroup(t, 0, 1)
	var oneNode int
	if s.h.APICalls != nil {
		before := s.h.APICalls()
		s.describe(t)
		oneNode = s.h.APICalls() - before
	}
	s.resize(t, 3)
	if got := s.describe(t).Size; got != 3 {
		t.Errorf("after Resize(3), Size = %d", got)
	}
	p = s.waitHealthy(t, 3)
	if p.Size != 3 {
		t.Errorf("Size = %d, want 3", p.Size)
	}
	ids := map[string]bool{}
	addrs := map[string]bool{}
	for _, n := range p.Nodes {
		if n.ID == "" || n.Address == "" {
			t.Errorf("node without ID or address: %+v", n)
		}
		if ids[n.ID] {
			t.Errorf("duplicate node ID %q", n.ID)
		}
		if addrs[n.Address] {
			t.Errorf("duplicate address %q", n.Address)
		}
		ids[n.ID], addrs[n.Address] = true, true
		if n.Template != tpl.ID {
			t.Errorf("node %s runs template %q, want the group's %q", n.ID, n.Template, tpl.ID)
		}
		if n.CreatedAt.IsZero() {
			t.Errorf("node %s has no CreatedAt", n.ID)
		}
	}
	if s.h.APICalls != nil {
		before := s.h.APICalls()
		s.describe(t)
		if threeNodes := s.h.APICalls() - before; threeNodes != oneNode {
			t.Errorf("Describe cost %d API calls with 3 nodes and %d with 1: it must not grow per node", threeNodes, oneNode)
		}
	}
}

func testResizeIdempotent(t *testing.T, s *suite) {
	_, first := s.healthyGroup(t, 0, 2)
	s.resize(t, 2)
	s.resize(t, 2)
	// Watch a while: a driver that treats Resize as "add n" shows extra
	// nodes within a boot time.
	until := time.Now().Add(min(s.h.timeout(), 10*s.h.poll()))
	for time.Now().Before(until) {
		p := s.describe(t)
		if p.Size != 2 || len(p.Nodes) != 2 {
			t.Fatalf("after repeating Resize(2): size %d, want 2 nodes:\n%s", p.Size, format(p))
		}
		time.Sleep(s.h.poll())
	}
	last := s.describe(t)
	for i := range first.Nodes {
		if !containsID(last, first.Nodes[i].ID) {
			t.Errorf("node %s vanished after a repeated Resize(2)", first.Nodes[i].ID)
		}
	}
}

func testResizeDown(t *testing.T, s *suite) {
	s.healthyGroup(t, 0, 3)
	s.resize(t, 1)
	if got := s.describe(t).Size; got != 1 {
		t.Errorf("after Resize(1), Size = %d", got)
	}
	s.waitHealthy(t, 1)
}

func testRemoveNodes(t *testing.T, s *suite) {
	_, p := s.healthyGroup(t, 0, 3)
	victim := p.Nodes[1].ID
	keep := []string{p.Nodes[0].ID, p.Nodes[2].ID}
	s.remove(t, victim)
	if got := s.describe(t).Size; got != 2 {
		t.Errorf("after removing 1 of 3 nodes, Size = %d, want 2", got)
	}
	s.remove(t, victim) // a retried call whose first response was lost
	if got := s.describe(t).Size; got != 2 {
		t.Errorf("after removing the same node twice, Size = %d, want 2", got)
	}
	p = s.waitFor(t, "the removed node to disappear", func(p rollout.Pool) bool { return !containsID(p, victim) })
	for _, id := range keep {
		n, ok := find(p, id)
		if !ok || n.State == rollout.NodeTerminating {
			t.Errorf("node %s was not named but is gone or terminating:\n%s", id, format(p))
		}
	}
	// No replacement may appear: the group shrank.
	p = s.waitHealthy(t, 2)
	for _, n := range p.Nodes {
		if n.ID != keep[0] && n.ID != keep[1] {
			t.Errorf("unexpected node %s after RemoveNodes: the group must shrink, not replace", n.ID)
		}
	}
	s.remove(t, victim) // already gone: not an error
	if got := s.describe(t).Size; got != 2 {
		t.Errorf("after removing a node that is gone, Size = %d, want 2", got)
	}
	s.remove(t, keep...)
	if got := s.describe(t).Size; got != 0 {
		t.Errorf("after removing the last 2 nodes, Size = %d, want 0", got)
	}
	s.waitFor(t, "an empty group", func(p rollout.Pool) bool { return len(p.Nodes) == 0 })
}

func testMixedTemplates(t *testing.T, s *suite) {
	a, p := s.healthyGroup(t, 0, 1)
	old := p.Nodes[0].ID
	b := s.prepare(t, 1)
	s.useTemplate(t, b, a.ID)
	s.resize(t, 2)
	p = s.waitHealthy(t, 2)
	for _, n := range p.Nodes {
		want := b.ID
		if n.ID == old {
			want = a.ID
		}
		if n.Template != want {
			t.Errorf("node %s reports template %q, want %q:\n%s", n.ID, n.Template, want, format(p))
		}
	}
	if !containsID(p, old) {
		t.Errorf("the old node %s is gone after UseTemplate and Resize: changing template must not replace nodes", old)
	}
}

func testBrokenSpec(t *testing.T, s *suite) {
	if s.h.Broken == nil {
		t.Skip("Harness.Broken not set")
	}
	var tpl rollout.Template
	s.must(t, "PrepareTemplate(broken)", func(ctx context.Context) error {
		var err error
		tpl, err = s.d.PrepareTemplate(ctx, *s.h.Broken)
		return err
	})
	s.group(t, tpl)
	s.resize(t, 1)
	p := s.waitFor(t, "the broken node to appear", func(p rollout.Pool) bool { return len(members(p)) == 1 })
	id := p.Nodes[0].ID
	// A crashing node may serve a moment before it dies, so passing the
	// prober is only wrong if the node never goes on to fail.
	var passed string
	until := time.Now().Add(s.h.brokenWindow())
	for time.Now().Before(until) {
		p := s.describe(t)
		n, ok := find(p, id)
		if !ok {
			// A cloud that replaces failed nodes itself is fine as long as no
			// node of the broken spec stays healthy.
			if m := members(p); len(m) > 0 {
				id = m[0].ID
			}
		} else if n.State == rollout.NodeFailed {
			return
		} else if s.healthy(t, n) {
			passed = format(p)
		} else if passed != "" {
			return // served, then stopped serving: a crash the cloud does not report
		}
		time.Sleep(s.h.poll())
	}
	if passed != "" {
		t.Fatalf("node %s of the broken spec passed the prober and never failed within %s:\n%s", id, s.h.brokenWindow(), passed)
	}
}

func containsID(p rollout.Pool, id string) bool {
	_, ok := find(p, id)
	return ok
}

func find(p rollout.Pool, id string) (rollout.Node, bool) {
	for _, n := range p.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return rollout.Node{}, false
}
