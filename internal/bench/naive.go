package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/internal/sim"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// naive is the rollout a platform team would script against the cloud's
// API, the baseline noderoll is compared with: lockstep batches (add a
// batch, poll each new instance one call at a time until all are healthy,
// drain the old batch, remove it, poll each removed instance until it is
// gone, next batch). It keeps the same budgets (never more than
// size + surge nodes, never below size - unavailable), the same health gate
// (threshold passing probes, then min_ready) and the same retry policy as
// the engine, so the difference is the schedule and the polling.
type naive struct {
	cloud   rollout.Driver
	prober  rollout.Prober
	drainer rollout.Drainer
	s       rollout.Strategy
	rec     *recorder
}

// call retries op as the engine would (rollout.DefaultRetry).
func (nv *naive) call(ctx context.Context, what string, op func() error) error {
	for attempt := 0; ; attempt++ {
		err := op()
		if err == nil {
			return nil
		}
		wait, retry := rollout.DefaultRetry(attempt, nv.cloud.ErrorCode(err), err)
		if !retry {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := sim.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// describeOne is the per-instance poll, like
// `aws ec2 describe-instances --instance-ids $id`: one API call per node.
// The sim has only a pool-wide Describe, so the script calls it once per
// instance and reads its node: the same count of calls, each one throttled,
// delayed and faulted like any other.
func (nv *naive) describeOne(ctx context.Context, id string) (rollout.Node, bool, error) {
	var p rollout.Pool
	err := nv.call(ctx, "describe "+id, func() error {
		var err error
		p, err = nv.cloud.Describe(ctx)
		return err
	})
	if err != nil {
		return rollout.Node{}, false, err
	}
	for _, n := range p.Nodes {
		if n.ID == id {
			return n, true, nil
		}
	}
	return rollout.Node{}, false, nil
}

func (nv *naive) roll(ctx context.Context, size int, target rollout.Spec) (int, error) {
	var tpl rollout.Template
	if err := nv.call(ctx, "prepare template", func() error {
		var err error
		tpl, err = nv.cloud.PrepareTemplate(ctx, target)
		return err
	}); err != nil {
		return 0, err
	}
	var pool rollout.Pool
	if err := nv.call(ctx, "list instances", func() error {
		var err error
		pool, err = nv.cloud.Describe(ctx)
		return err
	}); err != nil {
		return 0, err
	}
	var old []string
	known := map[string]bool{}
	for _, n := range pool.Nodes {
		known[n.ID] = true
		if n.Template != tpl.ID && n.State != rollout.NodeTerminating {
			old = append(old, n.ID)
		}
	}
	sort.Strings(old) // oldest first, as n-0001 < n-0002
	if err := nv.call(ctx, "use template", func() error { return nv.cloud.UseTemplate(ctx, tpl, pool.Template.ID) }); err != nil {
		return 0, err
	}
	b := nv.s.Resolve(size)
	batch, surgeFirst := b.Surge, true
	if batch == 0 {
		batch, surgeFirst = b.Unavailable, false
	}
	replaced := 0
	for i := 0; i < len(old); i += batch {
		outgoing := old[i:min(i+batch, len(old))]
		nv.rec.wave(time.Now())
		if !surgeFirst {
			if err := nv.retire(ctx, outgoing); err != nil {
				return replaced, err
			}
		}
		desired := size + len(outgoing)
		if !surgeFirst {
			desired = size
		}
		if err := nv.call(ctx, "resize", func() error { return nv.cloud.Resize(ctx, desired) }); err != nil {
			return replaced, err
		}
		fresh, err := nv.newInstances(ctx, known, len(outgoing))
		if err != nil {
			return replaced, err
		}
		if err := nv.waitHealthy(ctx, fresh); err != nil {
			return replaced, err
		}
		if surgeFirst {
			if err := nv.retire(ctx, outgoing); err != nil {
				return replaced, err
			}
		}
		replaced += len(outgoing)
	}
	return replaced, nv.call(ctx, "clear origin", func() error { return nv.cloud.UseTemplate(ctx, tpl, "") })
}

// newInstances lists the group until the n instances it launched show.
func (nv *naive) newInstances(ctx context.Context, known map[string]bool, n int) ([]rollout.Node, error) {
	for {
		var p rollout.Pool
		if err := nv.call(ctx, "list instances", func() error {
			var err error
			p, err = nv.cloud.Describe(ctx)
			return err
		}); err != nil {
			return nil, err
		}
		var fresh []rollout.Node
		for _, m := range p.Nodes {
			if !known[m.ID] {
				fresh = append(fresh, m)
			}
		}
		if len(fresh) >= n {
			for _, m := range fresh {
				known[m.ID] = true
			}
			return fresh, nil
		}
		if err := sim.Sleep(ctx, nv.s.ProbeInterval); err != nil {
			return nil, err
		}
	}
}

// waitHealthy polls each instance in turn, one describe each, probing those
// that run, until every one passed threshold probes and min_ready.
func (nv *naive) waitHealthy(ctx context.Context, nodes []rollout.Node) error {
	streak := map[string]int{}
	since := map[string]time.Time{}
	deadline := time.Now().Add(nv.s.NodeDeadline)
	for {
		round := time.Now()
		ok := 0
		for _, n := range nodes {
			if t, passed := since[n.ID]; passed && time.Since(t) >= nv.s.MinReady {
				ok++
				continue
			}
			cur, found, err := nv.describeOne(ctx, n.ID)
			if err != nil {
				return err
			}
			if !found || cur.State != rollout.NodeRunning || nv.prober.Probe(ctx, cur) != nil {
				streak[n.ID] = 0
				delete(since, n.ID)
				continue
			}
			if streak[n.ID]++; streak[n.ID] >= nv.s.HealthyThreshold {
				if _, set := since[n.ID]; !set {
					since[n.ID] = time.Now()
				}
			}
		}
		if ok == len(nodes) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d new instances not healthy within %s", len(nodes)-ok, len(nodes), nv.s.NodeDeadline)
		}
		if err := sim.Sleep(ctx, nv.s.ProbeInterval-time.Since(round)); err != nil {
			return err
		}
	}
}

// retire drains the batch in parallel, removes it in one call and polls
// each removed instance until it is gone, so the next batch stays within
// the surge budget.
func (nv *naive) retire(ctx context.Context, ids []string) error {
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Go(func() { errs[i] = nv.drainer.Drain(ctx, rollout.Node{ID: id}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("drain %s: %w", ids[i], err)
		}
	}
	if err := nv.call(ctx, "remove", func() error { return nv.cloud.RemoveNodes(ctx, ids) }); err != nil {
		return err
	}
	left := ids
	for len(left) > 0 {
		round := time.Now()
		var still []string
		for _, id := range left {
			_, found, err := nv.describeOne(ctx, id)
			if err != nil {
				return err
			}
			if found {
				still = append(still, id)
			}
		}
		left = still
		if len(left) > 0 {
			if err := sim.Sleep(ctx, nv.s.ProbeInterval-time.Since(round)); err != nil {
				return err
			}
		}
	}
	return nil
}

func runNaive(ctx context.Context, sc Scenario, seed int64) (Run, error) {
	o := sc.cloudOptions(seed)
	cloud := sim.New(o)
	if _, err := cloud.Populate(specV1(sc.Nodes)); err != nil {
		return Run{}, err
	}
	start := time.Now()
	rec := newRecorder(start, false)
	rec.attach(cloud)
	nv := &naive{cloud: driver{cloud, rec}, prober: cloud.Prober(), drainer: rec.drainer(drainTime(seed)), s: sc.strategy(), rec: rec}
	replaced, err := nv.roll(ctx, sc.Nodes, specV2(sc.Nodes))
	run := Run{Outcome: string(rollout.OutcomeConverged), Seconds: time.Since(start).Seconds(), Replaced: replaced}
	if err != nil {
		run.Outcome, run.Error = string(rollout.OutcomeFailed), err.Error()
	}
	if err := finish(&run, cloud, rec, sc, seed); err != nil {
		return run, err
	}
	return run, nil
}
