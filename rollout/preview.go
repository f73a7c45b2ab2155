package rollout

import (
	"fmt"
	"strings"
	"time"
)

// Timings are per-node estimates a preview runs on.
type Timings struct {
	NodeReady time.Duration // a new node's time from request to available (boot + probes + min_ready)
	Drain     time.Duration // an old node's time from drain start to gone
}

// DefaultTimings are used when nothing was measured yet: cloud VMs take
// about 25 s to 2 min to boot; 90 s sits in the middle.
var defaultTimings = Timings{NodeReady: 90 * time.Second, Drain: 30 * time.Second}

// Wave is a batch of replacements as a change review reads it.
type Wave struct {
	Number int
	Nodes  int
}

// PreviewResult is what Apply would do, for a plan.
type PreviewResult struct {
	Action        string // "create", "roll", "scale", "none"
	From, To      string
	Size          int
	Current       int // nodes now
	Replace       int
	Waves         []Wave
	Budget        Budget
	LowestHealthy int
	MinAllowed    int
	MaxNodes      int
	Estimated     time.Duration
	Reasons       []string
}

// TemplateName is how a preview names a template: by what it runs.
func TemplateName(image, machineType string) string {
	if machineType == "" {
		return "image=" + image
	}
	return "image=" + image + " machine_type=" + machineType
}

// Preview renders what Apply would do for a pool as last observed. It runs
// the same planner as Apply over a virtual pool in which every new node
// becomes available after t.NodeReady and every drain takes t.Drain, so the
// waves, the lowest capacity and the estimate follow the real rules.
func Preview(current Pool, target Spec, s Strategy, t Timings) PreviewResult {
	if t.NodeReady <= 0 {
		t.NodeReady = defaultTimings.NodeReady
	}
	if t.Drain < 0 {
		t.Drain = 0
	} else if t.Drain == 0 {
		t.Drain = defaultTimings.Drain
	}
	b := s.Resolve(target.Size)
	res := PreviewResult{Size: target.Size, Budget: b, MinAllowed: max(0, target.Size-b.Unavailable),
		To: TemplateName(target.Image, target.MachineType)}

	sameTemplate := current.Template.ID != "" && current.Template.Image == target.Image && current.Template.MachineType == target.MachineType
	targetID := "(new template)"
	if sameTemplate {
		targetID = current.Template.ID
	}
	res.From = TemplateName(current.Template.Image, current.Template.MachineType)
	var live []Node
	for _, n := range current.Nodes {
		if n.State != NodeTerminating {
			live = append(live, n)
		}
	}
	res.Current = len(live)
	for _, n := range live {
		if n.Template != targetID {
			res.Replace++
		}
	}
	switch {
	case current.Template.ID == "" && len(live) == 0:
		res.Action, res.From = "create", ""
		res.Reasons = append(res.Reasons, fmt.Sprintf("create the group and start %d node(s), each checked healthy", target.Size))
	case res.Replace > 0:
		res.Action = "roll"
		if !sameTemplate {
			res.Reasons = append(res.Reasons, fmt.Sprintf("the template changes from %s to %s", res.From, res.To))
		} else {
			res.Reasons = append(res.Reasons, fmt.Sprintf("%d node(s) are not on %s: an earlier rollout did not finish", res.Replace, res.To))
		}
	case len(live) != target.Size:
		res.Action = "scale"
		res.Reasons = append(res.Reasons, fmt.Sprintf("the size changes from %d to %d; no node is replaced", len(live), target.Size))
	default:
		res.Action = "none"
		res.Reasons = append(res.Reasons, "nothing to roll: every node already runs "+res.To)
		res.LowestHealthy, res.MaxNodes = len(live), len(live)
		return res
	}

	simulatePreview(&res, current, live, targetID, target, s, b, t)
	return res
}

// simulatePreview runs Decide over a virtual pool, event by event.
func simulatePreview(res *PreviewResult, current Pool, live []Node, targetID string, target Spec, s Strategy, b Budget, t Timings) {
	type vnode struct {
		Node
		readyAt time.Time
		drainAt time.Time // zero: not draining
	}
	start := time.Unix(0, 0)
	now := start
	var nodes []vnode
	for _, n := range live {
		nodes = append(nodes, vnode{Node: Node{ID: n.ID, Template: n.Template, State: NodeRunning, CreatedAt: start}, readyAt: start})
	}
	pool := Pool{Template: Template{ID: current.Template.ID}, Size: len(nodes)}
	if res.Action == "create" {
		pool.Template.ID = targetID
	}
	rolling := res.Action == "roll"
	pace := newPacer(s, target.Size, b, rolling)
	res.LowestHealthy, res.MaxNodes = -1, len(nodes)
	seq := 0
	for step := 0; step < 100000; step++ {
		views := make([]NodeView, len(nodes))
		avail := 0
		newAvail := 0
		for i, n := range nodes {
			v := NodeView{Node: n.Node, Available: !now.Before(n.readyAt) && n.drainAt.IsZero()}
			if !n.drainAt.IsZero() {
				v.Draining = now.Before(n.drainAt)
				v.Drained = !v.Draining
			}
			if v.Available {
				avail++
				if n.Template == targetID {
					newAvail++
				}
			}
			views[i] = v
		}
		if res.LowestHealthy < 0 || avail < res.LowestHealthy {
			if res.Action != "create" {
				res.LowestHealthy = avail
			}
		}
		maxNew, hold, _ := pace.limits(now, newAvail)
		obs := Observation{Now: now, Pool: pool, Nodes: views, Target: Template{ID: targetID}, Size: target.Size, Budget: b, MaxNew: maxNew, Hold: hold}
		intents := Decide(obs)
		if len(intents) == 1 && intents[0].Kind == IntentDone {
			break
		}
		for _, in := range intents {
			switch in.Kind {
			case IntentUseTemplate:
				pool.Template.ID, pool.Origin = in.Template.ID, in.Origin
			case IntentResize:
				for len(nodes) < in.Size || pool.Size < in.Size {
					seq++
					nodes = append(nodes, vnode{Node: Node{ID: fmt.Sprintf("new-%d", seq), Template: pool.Template.ID, State: NodeRunning, CreatedAt: now}, readyAt: now.Add(t.NodeReady)})
					pool.Size++
				}
			case IntentDrain:
				drain := set(in.Nodes)
				for i := range nodes {
					if drain[nodes[i].ID] {
						nodes[i].drainAt = now.Add(t.Drain)
					}
				}
			case IntentRemove:
				gone := set(in.Nodes)
				keep := nodes[:0]
				for _, n := range nodes {
					if !gone[n.ID] {
						keep = append(keep, n)
					}
				}
				pool.Size -= len(nodes) - len(keep)
				nodes = keep
			}
		}
		res.MaxNodes = max(res.MaxNodes, len(nodes))
		if changed(intents) {
			continue // act again at the same instant, as the executor's next tick would
		}
		next := time.Time{}
		for _, n := range nodes {
			for _, at := range []time.Time{n.readyAt, n.drainAt} {
				if at.After(now) && (next.IsZero() || at.Before(next)) {
					next = at
				}
			}
		}
		if hold {
			if h := pace.holdUntil; h.After(now) && (next.IsZero() || h.Before(next)) {
				next = h
			}
			if e := pace.soakStart.Add(s.CanarySoak); e.After(now) && (next.IsZero() || e.Before(next)) {
				next = e
			}
		}
		if next.IsZero() {
			break
		}
		now = next
	}
	res.Estimated = now.Sub(start)
	if res.LowestHealthy < 0 {
		res.LowestHealthy = 0
	}
	if rolling {
		c := max(1, b.Concurrency())
		left := res.Replace
		if canary := min(target.Size, s.CanaryCount); canary > 0 {
			res.Waves = append(res.Waves, Wave{Number: 1, Nodes: min(canary, left)})
			left -= min(canary, left)
		}
		for left > 0 {
			n := min(c, left)
			res.Waves = append(res.Waves, Wave{Number: len(res.Waves) + 1, Nodes: n})
			left -= n
		}
	}
}

func changed(intents []Intent) bool {
	for _, in := range intents {
		switch in.Kind {
		case IntentUseTemplate, IntentResize, IntentRemove, IntentDrain:
			return true
		}
	}
	return false
}

func set(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// String is the preview as a change review reads it.
func (p PreviewResult) String() string {
	var b strings.Builder
	switch p.Action {
	case "none":
		fmt.Fprintf(&b, "no rollout: %d node(s) already on %s", p.Current, p.To)
		for _, r := range p.Reasons[min(1, len(p.Reasons)):] {
			fmt.Fprintf(&b, "\nwhy: %s", r)
		}
		return b.String()
	case "create":
		fmt.Fprintf(&b, "create %d node(s) on %s", p.Size, p.To)
	case "scale":
		fmt.Fprintf(&b, "scale from %d to %d node(s) on %s without replacing any", p.Current, p.Size, p.To)
	case "roll":
		fmt.Fprintf(&b, "roll %d node(s) from %s to %s in %d wave(s) of up to %d (max_surge %d, max_unavailable %d)",
			p.Replace, p.From, p.To, len(p.Waves), max(1, p.Budget.Concurrency()), p.Budget.Surge, p.Budget.Unavailable)
	}
	if p.Action != "create" {
		fmt.Fprintf(&b, "\nlowest healthy: %d of %d (minimum allowed %d); at most %d node(s) at once", p.LowestHealthy, p.Size, p.MinAllowed, p.MaxNodes)
	}
	fmt.Fprintf(&b, "\nestimated duration: %s", p.Estimated.Round(time.Second))
	for _, w := range p.Waves {
		fmt.Fprintf(&b, "\n  wave %d: replace %d node(s)", w.Number, w.Nodes)
	}
	for _, r := range p.Reasons {
		fmt.Fprintf(&b, "\nwhy: %s", r)
	}
	return b.String()
}
