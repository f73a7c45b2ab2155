package local

import (
	"context"
	"errors"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// Zone is what Describe reports as every node's zone.
const Zone = "local"

// staleTerminating: a node still alive this long after its removal began
// lost its remover (the process died mid-stop); the next Resize or
// RemoveNodes stops it again.
func (d *Driver) staleTerminating() time.Duration { return d.o.StopTimeout + killWait + 10*time.Second }

// observe checks every recorded node once, under the lock, and forgets
// nodes whose removal finished (terminating and no longer alive).
func (s *state) observe() (map[string]bool, error) {
	up := make(map[string]bool, len(s.nodes))
	for _, r := range s.sortedNodes() {
		alive, err := s.d.alive(r)
		if err != nil {
			return nil, err
		}
		if r.State == recordTerminating && !alive {
			if err := s.deleteNode(r.ID); err != nil {
				return nil, err
			}
			continue
		}
		up[r.ID] = alive
	}
	return up, nil
}

// Describe reads the pool's files and checks each node's process: one read
// of the state directory per call.
func (d *Driver) Describe(ctx context.Context) (rollout.Pool, error) {
	if err := checkContext(ctx); err != nil {
		return rollout.Pool{}, err
	}
	s, err := d.open(ctx)
	if err != nil {
		return rollout.Pool{}, err
	}
	if s.group == nil {
		s.close()
		return rollout.Pool{}, d.errorf("%w in %s", ErrPoolNotFound, d.o.StateDir)
	}
	up, err := s.observe()
	if err != nil {
		s.close()
		return rollout.Pool{}, err
	}
	g := s.group
	tr := g.Templates[g.Template]
	pool := rollout.Pool{
		Name:     d.o.Pool,
		Template: rollout.Template{ID: g.Template, Image: tr.Image, MachineType: tr.MachineType},
		Origin:   g.Origin,
		Size:     g.Desired,
	}
	var booting []int
	ports := map[string]int{}
	for _, r := range s.sortedNodes() {
		ports[r.ID] = r.Port
		n := rollout.Node{ID: r.ID, Template: r.Template, Address: r.Address, Zone: Zone, CreatedAt: r.CreatedAt}
		switch {
		case r.State == recordTerminating:
			n.State = rollout.NodeTerminating
		case !up[r.ID]:
			n.State = rollout.NodeFailed
			n.Detail = d.exitDetail(s, r.ID)
		default:
			booting = append(booting, len(pool.Nodes))
		}
		pool.Nodes = append(pool.Nodes, n)
	}
	s.close()

	// Whether a live node accepts connections yet is asked outside the
	// lock: other runs need not wait for it.
	var wg sync.WaitGroup
	for _, i := range booting {
		wg.Go(func() {
			n := &pool.Nodes[i]
			port := strconv.Itoa(ports[n.ID])
			n.State = rollout.NodeRunning
			if listening(ctx, n.Address, port) {
				return
			}
			if age := time.Since(n.CreatedAt); age < d.o.BootTimeout {
				n.State = rollout.NodeProvisioning
				n.Detail = "booting: not yet accepting connections on port " + port
			} else {
				n.Detail = "not accepting connections on port " + port + " after " + d.o.BootTimeout.String()
			}
		})
	}
	wg.Wait()
	return pool, nil
}

// PrepareTemplate returns the template for spec: an ID derived from the
// image, machine type and Options' command, so it is the same every time.
// When the pool exists the template is recorded in it; before Create it is
// only computed, and Create or UseTemplate record it.
func (d *Driver) PrepareTemplate(ctx context.Context, spec rollout.Spec) (rollout.Template, error) {
	if spec.Image == "" {
		return rollout.Template{}, d.errorf("%w: spec has no image", ErrInvalid)
	}
	id, tr := d.templateFor(spec.Image, spec.MachineType)
	t := rollout.Template{ID: id, Image: spec.Image, MachineType: spec.MachineType}
	s, err := d.open(ctx)
	if err != nil {
		return rollout.Template{}, err
	}
	defer s.close()
	if s.requireGroup() != nil {
		return t, nil
	}
	if _, ok := s.group.Templates[id]; !ok {
		tr.CreatedAt = time.Now().UTC()
		s.group.Templates[id] = tr
		if err := s.writeGroup(); err != nil {
			return rollout.Template{}, err
		}
	}
	return t, nil
}

// UseTemplate points the group at t; nodes launched from now on run it.
func (d *Driver) UseTemplate(ctx context.Context, t rollout.Template, origin string) error {
	s, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	if err := s.requireGroup(); err != nil {
		return err
	}
	g := s.group
	if _, ok := g.Templates[t.ID]; ok && g.Template == t.ID && g.Origin == origin {
		return nil
	}
	tr, err := d.resolveTemplate(g, t)
	if err != nil {
		return err
	}
	if _, ok := g.Templates[t.ID]; !ok {
		tr.CreatedAt = time.Now().UTC()
		g.Templates[t.ID] = tr
	}
	g.Template, g.Origin = t.ID, origin
	return s.writeGroup()
}

// Resize sets the desired size. Like a cloud group it launches nodes from
// the group's template up to size, and below the node count it removes
// nodes itself: failed ones first, then those on other templates (oldest
// template first), then the newest. The engine removes precisely with
// RemoveNodes; Resize down is for users and for convergence.
func (d *Driver) Resize(ctx context.Context, size int) error {
	if size < 0 {
		return d.errorf("%w: size %d", ErrInvalid, size)
	}
	s, err := d.open(ctx)
	if err != nil {
		return err
	}
	if err := s.requireGroup(); err != nil {
		s.close()
		return err
	}
	up, err := s.observe()
	if err != nil {
		s.close()
		return err
	}
	var members []*nodeRecord
	used := map[netip.Addr]bool{}
	for _, r := range s.sortedNodes() {
		if a, err := netip.ParseAddr(r.Address); err == nil {
			used[a] = true
		}
		if r.State != recordTerminating {
			members = append(members, r)
		}
	}
	g := s.group
	g.Desired = size
	if err := s.writeGroup(); err != nil {
		s.close()
		return err
	}
	victims := s.staleVictims(up)
	if len(members) < size {
		tr, ok := g.Templates[g.Template]
		if !ok {
			s.close()
			return d.errorf("group points at template %s, which it does not record", g.Template)
		}
		for range size - len(members) {
			if err := checkContext(ctx); err != nil {
				s.close()
				return err
			}
			if _, err := d.launch(s, g.Template, tr, used); err != nil {
				s.close()
				return err
			}
		}
	}
	if extra := len(members) - size; extra > 0 {
		for _, r := range d.scaleInOrder(g, members, up)[:extra] {
			if err := s.markTerminating(r); err != nil {
				s.close()
				return err
			}
			victims = append(victims, r)
		}
	}
	s.close()
	return d.stopAndForget(ctx, victims)
}

// scaleInOrder sorts members in the order Resize removes them.
func (d *Driver) scaleInOrder(g *group, members []*nodeRecord, up map[string]bool) []*nodeRecord {
	rank := func(r *nodeRecord) int {
		switch {
		case !up[r.ID]:
			return 0
		case r.Template != g.Template:
			return 1
		}
		return 2
	}
	out := append([]*nodeRecord(nil), members...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		if a.Template != b.Template {
			ta, tb := g.Templates[a.Template].CreatedAt, g.Templates[b.Template].CreatedAt
			if !ta.Equal(tb) {
				return ta.Before(tb)
			}
		}
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.After(b.CreatedAt)
		}
		return a.ID > b.ID
	})
	return out
}

// staleVictims returns terminating nodes whose remover died before they
// exited, so that this call stops them again.
func (s *state) staleVictims(up map[string]bool) []*nodeRecord {
	var out []*nodeRecord
	for _, r := range s.sortedNodes() {
		if r.State == recordTerminating && up[r.ID] && time.Since(r.terminatingSince()) > s.d.staleTerminating() {
			out = append(out, r)
		}
	}
	return out
}

func (s *state) markTerminating(r *nodeRecord) error {
	r.State = recordTerminating
	r.TerminatingAt = time.Now().UTC()
	return s.writeNode(r)
}

// RemoveNodes deletes exactly the named nodes and shrinks the desired size
// by the number of them that were members. Unknown ids are skipped: they
// are already gone. It returns once the processes have exited (graceful
// SIGTERM, SIGKILL after StopTimeout) and their records are deleted.
func (d *Driver) RemoveNodes(ctx context.Context, ids []string) error {
	s, err := d.open(ctx)
	if err != nil {
		return err
	}
	if s.group == nil {
		s.close()
		return d.errorf("%w in %s", ErrPoolNotFound, d.o.StateDir)
	}
	up, err := s.observe()
	if err != nil {
		s.close()
		return err
	}
	victims := s.staleVictims(up)
	seen := map[string]bool{}
	removed := 0
	for _, id := range ids {
		r, ok := s.nodes[id]
		if !ok || seen[id] {
			continue
		}
		seen[id] = true
		if r.State != recordTerminating {
			if err := s.markTerminating(r); err != nil {
				s.close()
				return err
			}
			removed++
		}
		victims = append(victims, r) // again if terminating: a retry after a lost response
	}
	if removed > 0 {
		s.group.Desired = max(0, s.group.Desired-removed)
		if err := s.writeGroup(); err != nil {
			s.close()
			return err
		}
	}
	s.close()
	return d.stopAndForget(ctx, victims)
}

// stopAndForget stops the victims in parallel without holding the lock, so
// Describe keeps reporting them terminating meanwhile, then deletes the
// records of those that are gone.
func (d *Driver) stopAndForget(ctx context.Context, victims []*nodeRecord) error {
	if len(victims) == 0 {
		return nil
	}
	errs := make([]error, len(victims))
	var wg sync.WaitGroup
	for i, r := range dedupe(victims) {
		wg.Go(func() { errs[i] = d.stop(ctx, r) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	for _, r := range victims {
		if err := s.deleteNode(r.ID); err != nil {
			return err
		}
	}
	return nil
}

func dedupe(rs []*nodeRecord) []*nodeRecord {
	seen := map[string]bool{}
	var out []*nodeRecord
	for _, r := range rs {
		if !seen[r.ID] {
			seen[r.ID] = true
			out = append(out, r)
		}
	}
	return out
}

// Create makes the group pointing at t with a desired size of 0. t must
// come from PrepareTemplate of a Driver with the same command. Creating a
// group that exists with the same template is not an error.
func (d *Driver) Create(ctx context.Context, t rollout.Template) error {
	tr, err := d.resolveTemplate(nil, t)
	if err != nil {
		return err
	}
	s, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	if g := s.group; g != nil {
		switch {
		case g.Deleting:
			return d.errorf("%w: the pool is being deleted", ErrBusy)
		case g.Template == t.ID:
			return nil
		}
		return d.errorf("%w: the pool exists and points at template %s, not %s", ErrInvalid, g.Template, t.ID)
	}
	if len(s.nodes) > 0 {
		return d.errorf("%w: %d node records are left from a pool whose deletion did not finish; delete the pool first", ErrInvalid, len(s.nodes))
	}
	now := time.Now().UTC()
	tr.CreatedAt = now
	s.group = &group{
		Pool:      d.o.Pool,
		Template:  t.ID,
		Templates: map[string]templateRecord{t.ID: tr},
		CreatedAt: now,
	}
	return s.writeGroup()
}

// Delete stops every node still in the pool and removes its directory:
// group, templates, records and logs. A pool that is gone is not an error.
// Nothing new starts once Delete began, even if it is interrupted; the
// next Delete finishes it.
func (d *Driver) Delete(ctx context.Context) error {
	s, err := d.open(ctx)
	if err != nil {
		return err
	}
	if s.group != nil && !s.group.Deleting {
		s.group.Deleting = true
		if err := s.writeGroup(); err != nil {
			s.close()
			return err
		}
	}
	var victims []*nodeRecord
	for _, r := range s.sortedNodes() {
		if r.State != recordTerminating {
			if err := s.markTerminating(r); err != nil {
				s.close()
				return err
			}
		}
		victims = append(victims, r)
	}
	s.close()
	if err := d.stopAndForget(ctx, victims); err != nil {
		return err
	}
	s, err = d.open(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	if len(s.nodes) > 0 {
		return d.errorf("%w: %d nodes appeared while deleting", ErrBusy, len(s.nodes))
	}
	if err := removeAll(d.poolDir()); err != nil {
		return d.errorf("delete: %w", err)
	}
	return nil
}
