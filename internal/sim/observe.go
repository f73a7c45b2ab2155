package sim

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// Snapshot is the truth about the group at one moment (not what a possibly
// stale Describe shows): what safety invariants are checked against and
// what capacity-over-time plots are drawn from.
type Snapshot struct {
	Time time.Time
	// Call is the call kind that just completed ("describe", "resize", ...),
	// or "populate".
	Call     string
	Exists   bool
	Template string // the group's template
	Origin   string
	Size     int // desired size
	// Nodes exist: launched and not yet gone, terminating ones included
	// (they still occupy surge budget).
	Nodes int
	// Members are Nodes less the terminating ones: they count toward Size.
	Members int
	// Healthy members run and answer probes.
	Healthy    int
	ByTemplate map[string]TemplateCount // members by template ID
}

// TemplateCount is the members on one template.
type TemplateCount struct {
	Nodes, Healthy, Failed int
}

// Stats are totals since New, for benchmarks.
type Stats struct {
	Calls     map[string]int // API calls by kind, faulted ones included
	Throttled int            // calls refused by a token bucket
	Errors    int            // calls failed with an injected 5xx
	Timeouts  int            // calls that hung and failed
	Injected  int            // calls failed by Faults.Fail
	Launched  int            // nodes launched
	Removed   int            // nodes terminated (RemoveNodes or scale-in)
	PeakNodes int            // most nodes existing at once
	Probes    int            // probes answered by Prober
}

// Observe registers f to be called with a snapshot after every API call
// that completes (describe included) and after Populate, in order. f runs
// under the cloud's lock: it must not call the Cloud.
func (c *Cloud) Observe(f func(now time.Time, s Snapshot)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.observers = append(c.observers, f)
}

// State returns the snapshot at the current time.
func (c *Cloud) State() Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snapshot(time.Now(), "")
}

// Serving counts how many of the named nodes are members that answer probes
// now (not for use inside an Observe callback).
func (c *Cloud) Serving(ids []string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	now, k := time.Now(), 0
	for _, id := range ids {
		if n, ok := c.byID[id]; ok && !n.removed() && n.serving(now) {
			k++
		}
	}
	return k
}

// Calls returns the API calls made so far by kind.
func (c *Cloud) Calls() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.calls)
}

// Stats returns the totals since New.
func (c *Cloud) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Calls = maps.Clone(c.calls)
	return s
}

func (c *Cloud) snapshot(now time.Time, call string) Snapshot {
	s := Snapshot{Time: now, Call: call, Exists: c.exists, Template: c.group.ID, Origin: c.origin, Size: c.size,
		ByTemplate: map[string]TemplateCount{}}
	for _, n := range c.nodes {
		if n.gone(now) {
			continue
		}
		s.Nodes++
		if n.removed() {
			continue
		}
		s.Members++
		tc := s.ByTemplate[n.tpl]
		tc.Nodes++
		if n.serving(now) {
			s.Healthy++
			tc.Healthy++
		}
		if n.state(now) == rollout.NodeFailed {
			tc.Failed++
		}
		s.ByTemplate[n.tpl] = tc
	}
	return s
}

// notify records the peak and tells observers; called with c.mu held.
func (c *Cloud) notify(now time.Time, call string) {
	if len(c.observers) == 0 {
		if call == CallResize || call == "populate" {
			c.stats.PeakNodes = max(c.stats.PeakNodes, c.existing(now))
		}
		return
	}
	s := c.snapshot(now, call)
	c.stats.PeakNodes = max(c.stats.PeakNodes, s.Nodes)
	for _, f := range c.observers {
		f(now, s)
	}
}

func (c *Cloud) existing(now time.Time) int {
	k := 0
	for _, n := range c.nodes {
		if !n.gone(now) {
			k++
		}
	}
	return k
}

// Prober answers probes from each node's simulated health at the current
// time, with the errors a real HTTP probe would see.
func (c *Cloud) Prober() rollout.Prober {
	return rollout.ProberFunc(func(ctx context.Context, n rollout.Node) error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("probe %s: %w", n.ID, err)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.stats.Probes++
		now := time.Now()
		url := fmt.Sprintf("http://%s:8080/healthz", n.Address)
		nd, ok := c.byID[n.ID]
		if !ok || nd.gone(now) || nd.addr != n.Address {
			return fmt.Errorf("probe %s: GET %s: dial tcp %s:8080: connect: no route to host", n.ID, url, n.Address)
		}
		switch nd.state(now) {
		case rollout.NodeProvisioning:
			return fmt.Errorf("probe %s: GET %s: dial tcp %s:8080: i/o timeout", n.ID, url, n.Address)
		case rollout.NodeFailed, rollout.NodeTerminating:
			return fmt.Errorf("probe %s: GET %s: dial tcp %s:8080: connect: connection refused", n.ID, url, n.Address)
		}
		if nd.mode == Unhealthy {
			return fmt.Errorf("probe %s: GET %s: status 500", n.ID, url)
		}
		if now.Before(nd.readyAt) {
			return fmt.Errorf("probe %s: GET %s: dial tcp %s:8080: connect: connection refused", n.ID, url, n.Address)
		}
		return nil
	})
}

// Drainer returns a drainer that takes a time drawn from d per node (the
// same node always drains in the same time under one seed) and gives up
// when ctx ends.
func (c *Cloud) Drainer(d Dist) rollout.Drainer {
	return rollout.DrainerFunc(func(ctx context.Context, n rollout.Node) error {
		if err := Sleep(ctx, d.Draw(stream(c.o.Seed, "drain/"+n.ID, 0))); err != nil {
			return fmt.Errorf("drain %s: %w", n.ID, err)
		}
		return nil
	})
}
