package rollout

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// IntentKind is what the executor is asked to do.
type IntentKind string

const (
	IntentUseTemplate IntentKind = "use_template" // point the group at Template, record Origin
	IntentResize      IntentKind = "resize"       // set the group's desired size to Size
	IntentDrain       IntentKind = "drain"        // drain Nodes, then remove them
	IntentRemove      IntentKind = "remove"       // remove Nodes now (dead, unprovisioned or drained)
	IntentFail        IntentKind = "fail"         // the rollout failed: Nodes and Reason say why
	IntentWait        IntentKind = "wait"         // nothing to do until something changes
	IntentDone        IntentKind = "done"         // converged
)

// Intent is one step with its reason in words.
type Intent struct {
	Kind     IntentKind
	Template Template
	Origin   string
	Size     int
	Nodes    []string
	Reason   string
}

func (i Intent) String() string {
	switch i.Kind {
	case IntentUseTemplate:
		return fmt.Sprintf("use template %s: %s", i.Template.ID, i.Reason)
	case IntentResize:
		return fmt.Sprintf("resize to %d: %s", i.Size, i.Reason)
	case IntentDrain, IntentRemove, IntentFail:
		return fmt.Sprintf("%s %s: %s", i.Kind, strings.Join(i.Nodes, ","), i.Reason)
	}
	return fmt.Sprintf("%s: %s", i.Kind, i.Reason)
}

// NodeView is a node as the executor sees it: the cloud's observation plus
// what probes and drains found out.
type NodeView struct {
	Node
	// Available: passed its probes and min_ready; counts as capacity.
	Available bool
	// Failed: died, or a target node that missed its deadline.
	Failed     bool
	FailReason string
	Draining   bool // a drain is in flight
	Drained    bool // drained, waiting to be removed
}

// Observation is everything the planner decides from. It is plain data, so
// the planner is a pure function: the same observation gives the same intents.
type Observation struct {
	Now    time.Time
	Pool   Pool // the group as described; Pool.Nodes is ignored in favour of Nodes
	Nodes  []NodeView
	Target Template
	Origin string // recorded with UseTemplate while the rollout runs
	Size   int
	Budget Budget
	// ReplaceFailed is set while rolling back, or when repairing a pool with
	// no rollout in progress: a failed target node is removed and replaced
	// rather than failing the run.
	ReplaceFailed bool
	// MaxNew caps target nodes (canary, waves with pauses); >= Size means no cap.
	MaxNew int
	// Hold stops adding nodes and removing available ones (a pause or soak).
	Hold bool
}

// Decide returns the next intents for an observation, in the order they
// must run: template, removals of dead nodes, resize, drains; or a single
// fail, wait or done.
//
// The budgets follow the Kubernetes deployment controller:
//   - at most Size+Surge nodes exist, counting nodes still terminating and
//     nodes the group launched that the cloud does not list yet;
//   - at least Size-Unavailable nodes stay available: an available node is
//     drained only when the nodes left available still meet that floor;
//   - unavailable old nodes go first, and only while the nodes left can still
//     reach that floor (so a health check that fails everywhere cannot empty
//     the pool).
func Decide(o Observation) []Intent {
	var out []Intent
	size, b := o.Size, o.Budget
	if o.Pool.Template.ID != o.Target.ID {
		out = append(out, Intent{Kind: IntentUseTemplate, Template: o.Target, Origin: o.Origin,
			Reason: fmt.Sprintf("the group points at %s; new nodes must run %s", nameOr(o.Pool.Template.ID, "no template"), o.Target.ID)})
	}

	var (
		newNodes, oldNodes    []NodeView
		newAvail, oldAvail    int
		terminating, draining int
		removeNow             []string
		removeReasons         []string
		visible               int
		failedTarget          []NodeView
	)
	newNodes = make([]NodeView, 0, min(len(o.Nodes), size+b.Surge))
	oldNodes = make([]NodeView, 0, len(o.Nodes))
	for _, n := range o.Nodes {
		switch {
		case n.State == NodeTerminating:
			terminating++
			continue
		}
		visible++
		switch {
		case n.Drained:
			removeNow = append(removeNow, n.ID)
			removeReasons = append(removeReasons, "drained")
		case n.Draining:
			draining++
		case n.Failed && n.Template == o.Target.ID && !o.ReplaceFailed:
			failedTarget = append(failedTarget, n)
		case n.Failed:
			removeNow = append(removeNow, n.ID)
			removeReasons = append(removeReasons, "failed: "+n.FailReason)
		case n.Template == o.Target.ID:
			newNodes = append(newNodes, n)
			if n.Available {
				newAvail++
			}
		default:
			oldNodes = append(oldNodes, n)
			if n.Available {
				oldAvail++
			}
		}
	}
	if len(failedTarget) > 0 {
		ids, reasons := make([]string, len(failedTarget)), make([]string, len(failedTarget))
		for i, n := range failedTarget {
			ids[i], reasons[i] = n.ID, n.ID+": "+n.FailReason
		}
		return []Intent{{Kind: IntentFail, Nodes: ids, Reason: strings.Join(reasons, "; ")}}
	}

	// Nodes the group launched that Describe does not list yet (eventual
	// consistency) run the group's template: count them as new, unavailable.
	invisible := max(0, o.Pool.Size-visible)
	newCount := len(newNodes) + invisible
	existing := max(o.Pool.Size, visible) + terminating
	avail := newAvail + oldAvail
	minAvail := max(0, size-b.Unavailable)
	maxTotal := size + b.Surge

	if len(removeNow) > 0 {
		out = append(out, Intent{Kind: IntentRemove, Nodes: removeNow, Reason: strings.Join(dedupe(removeReasons), "; ")})
	}
	desired := o.Pool.Size - len(removeNow)

	// Surge: add target nodes up to Size (or the canary/wave cap), within Size+Surge.
	wantNew := min(size, max(o.MaxNew, 0)) - newCount
	if !o.Hold && wantNew > 0 {
		if add := min(maxTotal-existing, wantNew); add > 0 {
			out = append(out, Intent{Kind: IntentResize, Size: desired + add,
				Reason: fmt.Sprintf("add %d node(s) on %s: %d of %d on it, %d node(s) exist, at most %d allowed", add, o.Target.ID, newCount, size, existing, maxTotal)})
		}
	}

	// Drain: old nodes, then surplus new ones, within the availability floor.
	var drain []string
	var why []string
	scaledDownRoom := visible - len(removeNow) - draining - minAvail - (newCount - newAvail)
	freeOld := unavailable(oldNodes)
	if n := min(len(freeOld), max(0, scaledDownRoom)); n > 0 {
		drain = append(drain, ids(freeOld[:n])...)
		why = append(why, fmt.Sprintf("%d old node(s) not serving", n))
		scaledDownRoom -= n
	}
	budget := avail - minAvail
	if !o.Hold && budget > 0 {
		avOld := available(oldNodes)
		if n := min(len(avOld), budget); n > 0 {
			drain = append(drain, ids(avOld[:n])...)
			why = append(why, fmt.Sprintf("%d old node(s) replaced: %d available, at least %d must stay", n, avail, minAvail))
			budget -= n
		}
	}
	if surplus := len(newNodes) - size; surplus > 0 && len(oldNodes) == 0 {
		free := unavailable(newNodes)
		n := min(len(free), surplus)
		drain = append(drain, ids(free[:n])...)
		surplus -= n
		if m := min(surplus, max(0, budget)); m > 0 && !o.Hold {
			drain = append(drain, ids(newestFirst(available(newNodes))[:m])...)
			n += m
		}
		if n > 0 {
			why = append(why, fmt.Sprintf("%d node(s) above size %d", n, size))
		}
	}
	if len(drain) > 0 {
		out = append(out, Intent{Kind: IntentDrain, Nodes: drain, Reason: strings.Join(why, "; ")})
	}
	if len(out) > 0 {
		return out
	}

	converged := len(oldNodes) == 0 && len(newNodes) == size && newAvail == size &&
		invisible == 0 && terminating == 0 && draining == 0 && o.Pool.Size == size
	if converged {
		if o.Pool.Origin != "" {
			return []Intent{{Kind: IntentUseTemplate, Template: o.Target, Origin: "", Reason: "converged: clear the rollout's origin mark"}}
		}
		return []Intent{{Kind: IntentDone, Reason: fmt.Sprintf("%d of %d nodes on %s and available", newAvail, size, o.Target.ID)}}
	}
	if o.Pool.Size > size+b.Surge && len(newNodes) < size {
		// Should not happen: someone grew the group behind our back.
		return []Intent{{Kind: IntentResize, Size: max(size, visible-terminating), Reason: "the group's desired size is above size + max_surge"}}
	}
	return []Intent{{Kind: IntentWait, Reason: waitReason(newCount-newAvail, len(oldNodes), draining, terminating, o.Hold)}}
}

func waitReason(booting, old, draining, terminating int, hold bool) string {
	var parts []string
	if hold {
		parts = append(parts, "paused")
	}
	if booting > 0 {
		parts = append(parts, fmt.Sprintf("%d new node(s) not yet available", booting))
	}
	if draining > 0 {
		parts = append(parts, fmt.Sprintf("%d node(s) draining", draining))
	}
	if terminating > 0 {
		parts = append(parts, fmt.Sprintf("%d node(s) terminating", terminating))
	}
	if old > 0 {
		parts = append(parts, fmt.Sprintf("%d old node(s) left", old))
	}
	if len(parts) == 0 {
		return "waiting for the group to settle"
	}
	return strings.Join(parts, ", ")
}

// unavailable returns the nodes that serve nothing, provisioning first.
func unavailable(ns []NodeView) []NodeView {
	var out []NodeView
	for _, n := range ns {
		if !n.Available {
			out = append(out, n)
		}
	}
	return oldestFirst(out)
}

func available(ns []NodeView) []NodeView {
	var out []NodeView
	for _, n := range ns {
		if n.Available {
			out = append(out, n)
		}
	}
	return oldestFirst(out)
}

func oldestFirst(ns []NodeView) []NodeView {
	slices.SortStableFunc(ns, func(a, b NodeView) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return ns
}

func newestFirst(ns []NodeView) []NodeView {
	ns = oldestFirst(ns)
	slices.Reverse(ns)
	return ns
}

func ids(ns []NodeView) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.ID
	}
	return out
}

func dedupe(s []string) []string {
	seen := map[string]int{}
	var out []string
	for _, v := range s {
		if _, ok := seen[v]; !ok {
			out = append(out, v)
		}
		seen[v]++
	}
	for i, v := range out {
		if seen[v] > 1 {
			out[i] = fmt.Sprintf("%d node(s) %s", seen[v], v)
		}
	}
	return out
}

func nameOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
