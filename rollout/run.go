package rollout

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// nodeHealth is what probes found out about one node during this run.
type nodeHealth struct {
	firstSeen    time.Time
	streak       int
	healthySince time.Time // when the streak reached the threshold
	preexisting  bool      // serving before this run began: no min_ready wait
	announced    bool      // EventNodeHealthy sent
	failed       string    // why it failed, once it did
	lastErr      error
}

type drainState struct {
	started time.Time
	done    bool
	err     error
}

type drainResult struct {
	id  string
	err error
}

// run is one converge loop's memory: health streaks and drains in flight.
// None of it is needed to resume: a new run re-probes and re-drains.
type run struct {
	e        *Executor
	rep      *Report
	size     int
	budget   Budget
	health   map[string]*nodeHealth
	drains   map[string]*drainState
	results  chan drainResult
	inflight sync.WaitGroup
	known    map[string]bool
	removed  map[string]bool // removed by this run; a stale listing may still show them
	last     map[string]Node // the latest observation, for events about drained nodes

	restore       bool
	repair        bool // no rollout in progress: failed nodes are replaced
	target        string
	lastProbe     time.Time
	lastProgress  time.Time
	addedTarget   int
	wavesStarted  int
	wavesFinished int
	restoreFailed int
	lowestSet     bool
	rounds        int
	oldLeft       int
}

// newRun starts a run's memory from the first observation. Nodes found
// running are trusted after one passing probe, without min_ready, because
// they were serving before this run: except target nodes while a rollout is
// in progress, which may have been booting when an earlier run stopped and
// must earn their place like any new node.
func newRun(e *Executor, rep *Report, size int, pool Pool, target string) *run {
	r := &run{
		e: e, rep: rep, size: size,
		budget:  e.o.Strategy.Resolve(size),
		health:  map[string]*nodeHealth{},
		drains:  map[string]*drainState{},
		results: make(chan drainResult, 64),
		known:   map[string]bool{},
		removed: map[string]bool{},
		last:    map[string]Node{},
	}
	now := time.Now()
	inProgress := pool.Origin != ""
	for _, n := range pool.Nodes {
		if n.State != NodeTerminating && n.Template != target {
			inProgress = true
		}
	}
	for _, n := range pool.Nodes {
		r.known[n.ID] = true
		if n.State == NodeTerminating {
			continue
		}
		born := now
		if !n.CreatedAt.IsZero() && n.CreatedAt.Before(now) {
			born = n.CreatedAt
		}
		trusted := !inProgress || n.Template != target
		if !trusted {
			// Its deadline starts now: this run gives it a fresh chance.
			born = now
		}
		r.health[n.ID] = &nodeHealth{firstSeen: born, preexisting: trusted}
	}
	return r
}

// restoreRun continues with the same health knowledge for a rollback.
func (r *run) restoreRun() *run {
	r.restore = true
	r.lastProgress = time.Time{}
	r.addedTarget = 0
	return r
}

// converge reconciles until the pool is size nodes on target, all available.
func (r *run) converge(ctx context.Context, target Template, origin string, restore, rolling bool) error {
	e := r.e
	s := e.o.Strategy
	pace := newPacer(s, r.size, r.budget, rolling && !restore)
	r.restore, r.target = restore, target.ID
	r.lastProgress = time.Now()
	defer r.waitDrains()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		pool, err := e.describe(ctx)
		if err != nil {
			return err
		}
		r.forget(&pool)
		now := time.Now()
		r.track(pool, target, now)
		if now.Sub(r.lastProbe) >= s.ProbeInterval || r.lastProbe.IsZero() {
			r.probe(ctx, pool.Nodes, now)
			r.lastProbe = now
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		obs := r.observe(pool, target, origin, now)
		newAvail := 0
		for _, n := range obs.Nodes {
			if n.Template == target.ID && n.Available {
				newAvail++
			}
		}
		maxNew, hold, pause := pace.limits(now, newAvail)
		obs.MaxNew, obs.Hold = maxNew, hold
		if pause != "" {
			e.emit(Event{Type: EventPaused, Message: pause})
		}
		r.measure(obs)
		r.waves(target.ID, now) // nodes found by track, removals made in the last wait
		intents := Decide(obs)
		done, err := r.act(ctx, intents, pool)
		if err != nil || done {
			return err
		}
		r.waves(target.ID, now) // removals made by act
		if limit := r.size + r.budget.Surge + 1; (r.restore || r.repair) && r.restoreFailed > limit {
			return &failure{reason: fmt.Sprintf("%d replacement node(s) failed while restoring the pool", r.restoreFailed)}
		}
		if s.ProgressDeadline > 0 && now.Sub(r.lastProgress) > s.ProgressDeadline && !hold {
			return &failure{reason: fmt.Sprintf("no progress for %s (progress_deadline)", s.ProgressDeadline)}
		}
		if err := r.wait(ctx, r.nextWake()); err != nil {
			return err
		}
	}
}

// track notices nodes that appeared and keeps health records for them.
func (r *run) track(pool Pool, target Template, now time.Time) {
	for _, n := range pool.Nodes {
		if r.known[n.ID] {
			continue
		}
		r.known[n.ID] = true
		born := now
		if !n.CreatedAt.IsZero() && n.CreatedAt.Before(now) {
			born = n.CreatedAt
		}
		r.health[n.ID] = &nodeHealth{firstSeen: born}
		if n.Template == target.ID {
			r.addedTarget++
			r.rep.Added++
		}
		r.e.emit(Event{Type: EventNodeAdded, Node: n.ID, Template: n.Template, Wave: r.waveOf(r.addedTarget), Message: fmt.Sprintf("%s %s", n.State, n.Address)})
	}
	// Health records stay for nodes that drop out of a listing: eventually
	// consistent clouds hide nodes for a moment, and a node that comes back
	// must not lose its streak or its deadline.
}

// probe checks every running node once, with bounded concurrency.
func (r *run) probe(ctx context.Context, nodes []Node, now time.Time) {
	type result struct {
		id  string
		err error
	}
	r.rounds++
	every := r.e.o.SettledProbeEvery
	var targets []Node
	for _, n := range nodes {
		h := r.health[n.ID]
		if n.State != NodeRunning || h == nil || r.drains[n.ID] != nil {
			continue
		}
		// Settled nodes (serving, already counted) are probed every k-th
		// round: at 10,000 nodes, probing all each tick is the prober's
		// whole capacity. A settled node that crashes still shows in the
		// next Describe; one whose endpoint starts failing is noticed up to
		// k intervals later.
		settled := h.streak > 0 && !h.healthySince.IsZero() && (h.preexisting || h.announced)
		if settled && every > 1 && (r.rounds+len(n.ID))%every != 0 {
			continue
		}
		targets = append(targets, n)
	}
	results := make([]result, len(targets))
	sem := make(chan struct{}, r.e.o.ProbeConcurrency)
	var wg sync.WaitGroup
	for i, n := range targets {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = result{n.ID, r.e.o.Prober.Probe(ctx, n)}
		}()
	}
	wg.Wait()
	threshold := r.e.o.Strategy.HealthyThreshold
	for _, res := range results {
		h := r.health[res.id]
		if res.err != nil {
			h.streak, h.healthySince, h.lastErr = 0, time.Time{}, res.err
			continue
		}
		h.streak++
		need := threshold
		if h.preexisting {
			need = 1
		}
		if h.streak >= need && h.healthySince.IsZero() {
			h.healthySince = now
		}
	}
}

func (r *run) available(n Node, now time.Time) bool {
	h := r.health[n.ID]
	if h == nil || n.State != NodeRunning || h.healthySince.IsZero() {
		return false
	}
	return h.preexisting || now.Sub(h.healthySince) >= r.e.o.Strategy.MinReady
}

// observe turns a description plus probe and drain knowledge into the
// planner's input, and marks target nodes that failed.
func (r *run) observe(pool Pool, target Template, origin string, now time.Time) Observation {
	s := r.e.o.Strategy
	views := make([]NodeView, 0, len(pool.Nodes))
	r.oldLeft = 0
	for _, n := range pool.Nodes {
		v := NodeView{Node: n, Available: r.available(n, now)}
		if d := r.drains[n.ID]; d != nil {
			v.Available = false
			v.Draining, v.Drained = !d.done, d.done
		}
		h := r.health[n.ID]
		switch {
		case n.State == NodeFailed:
			v.Failed, v.FailReason = true, nameOr(n.Detail, "the cloud reports the node failed")
		case h != nil && n.Template == target.ID && !v.Available && !v.Draining && !v.Drained && n.State != NodeTerminating:
			if now.Sub(h.firstSeen) > s.NodeDeadline {
				v.Failed = true
				v.FailReason = fmt.Sprintf("not healthy within node_deadline %s", s.NodeDeadline)
				if h.lastErr != nil {
					v.FailReason += ": last probe: " + h.lastErr.Error()
				} else if n.State != NodeRunning {
					v.FailReason += fmt.Sprintf(": still %s", n.State)
					if n.Detail != "" {
						v.FailReason += " (" + n.Detail + ")"
					}
				}
			}
		}
		if h != nil && v.Available && !h.announced && !h.preexisting {
			h.announced = true
			r.rep.NodeReady = append(r.rep.NodeReady, now.Sub(h.firstSeen))
			r.lastProgress = now
			r.e.emit(Event{Type: EventNodeHealthy, Node: n.ID, Template: n.Template, Message: fmt.Sprintf("healthy after %s", now.Sub(h.firstSeen).Round(time.Millisecond))})
		}
		if v.Failed && h != nil && h.failed == "" {
			h.failed = v.FailReason
			if n.Template == target.ID {
				r.rep.Failures = append(r.rep.Failures, Failure{Node: n.ID, Reason: v.FailReason})
			}
			r.e.emit(Event{Type: EventNodeFailed, Node: n.ID, Template: n.Template, Message: v.FailReason})
		}
		if n.Template != target.ID && n.State != NodeTerminating {
			r.oldLeft++
		}
		views = append(views, v)
	}
	return Observation{Now: now, Pool: pool, Nodes: views, Target: target, Origin: origin, Size: r.size, Budget: r.budget, ReplaceFailed: r.restore || r.repair, MaxNew: r.size}
}

// measure records the lowest capacity seen, once the pool had been healthy.
func (r *run) measure(o Observation) {
	avail := 0
	for _, n := range o.Nodes {
		if n.Available {
			avail++
		}
	}
	if !r.lowestSet || avail < r.rep.LowestHealthy {
		r.rep.LowestHealthy, r.lowestSet = avail, true
	}
}

// act performs the intents in order.
func (r *run) act(ctx context.Context, intents []Intent, pool Pool) (done bool, err error) {
	e, d := r.e, r.e.o.Driver
	for _, in := range intents {
		switch in.Kind {
		case IntentDone:
			return true, nil
		case IntentWait:
		case IntentFail:
			return false, &failure{reason: "node(s) failed: " + in.Reason}
		case IntentUseTemplate:
			if _, err := call(ctx, e, "point the group at "+in.Template.ID, func(ctx context.Context) (struct{}, error) {
				return struct{}{}, d.UseTemplate(ctx, in.Template, in.Origin)
			}); err != nil {
				return false, err
			}
			e.emit(Event{Type: EventTemplateChanged, Template: in.Template.ID, Message: in.Reason})
		case IntentResize:
			if _, err := call(ctx, e, fmt.Sprintf("resize to %d", in.Size), func(ctx context.Context) (struct{}, error) {
				return struct{}{}, d.Resize(ctx, in.Size)
			}); err != nil {
				return false, err
			}
		case IntentRemove:
			if err := r.remove(ctx, in); err != nil {
				return false, err
			}
		case IntentDrain:
			for _, id := range in.Nodes {
				r.startDrain(ctx, nodeByID(pool, id), in.Reason)
			}
		}
	}
	return false, nil
}

func (r *run) remove(ctx context.Context, in Intent) error {
	e, d := r.e, r.e.o.Driver
	ids := append([]string(nil), in.Nodes...)
	sort.Strings(ids)
	if _, err := call(ctx, e, "remove "+strings.Join(ids, ","), func(ctx context.Context) (struct{}, error) {
		err := d.RemoveNodes(ctx, ids)
		if CodeOf(d, err) == NotFound {
			err = nil
		}
		return struct{}{}, err
	}); err != nil {
		return err
	}
	for _, id := range ids {
		n := r.last[id]
		r.removed[id] = true
		msg := in.Reason
		if ds := r.drains[id]; ds != nil {
			r.rep.Drain = append(r.rep.Drain, time.Since(ds.started))
			delete(r.drains, id)
		}
		r.rep.Removed++
		if h := r.health[id]; h != nil && h.failed != "" {
			msg = "failed: " + h.failed
			if (r.restore || r.repair) && n.Template == r.target {
				r.restoreFailed++
			}
		} else if !r.restore && n.Template != "" && n.Template != r.target {
			r.rep.Replaced++
			r.lastProgress = time.Now()
		}
		e.emit(Event{Type: EventNodeRemoved, Node: id, Template: n.Template, Message: msg})
	}
	return nil
}

func nodeByID(p Pool, id string) Node {
	for _, n := range p.Nodes {
		if n.ID == id {
			return n
		}
	}
	return Node{ID: id}
}

func (r *run) startDrain(ctx context.Context, n Node, reason string) {
	if r.drains[n.ID] != nil {
		return
	}
	st := &drainState{started: time.Now()}
	r.drains[n.ID] = st
	// Nodes that never ran hold no work: remove them without a drain.
	if n.State != NodeRunning || r.e.o.Drainer == nil {
		st.done = true
		return
	}
	r.e.emit(Event{Type: EventNodeDraining, Node: n.ID, Template: n.Template, Message: reason})
	r.inflight.Add(1)
	go func() {
		defer r.inflight.Done()
		err := r.e.drain(ctx, n)
		r.results <- drainResult{n.ID, err}
	}()
}

// wait sleeps until the next tick. A node whose drain finishes meanwhile is
// removed at once, without a new Describe: the engine makes one Describe per
// tick however many nodes it replaces.
func (r *run) wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		// A tick that came due during a remove call goes first: select picks
		// at random among ready cases, and a seeded simulation must replay
		// the same way. Queued drain results are taken by the next wait.
		select {
		case <-t.C:
			return nil
		default:
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case res := <-r.results:
			batch := []drainResult{res}
			for more := true; more; {
				select {
				case res := <-r.results:
					batch = append(batch, res)
				default:
					more = false
				}
			}
			var ready []string
			for _, res := range batch {
				if err := r.drained(res); err != nil {
					return err
				}
				if st := r.drains[res.id]; st != nil && st.done {
					ready = append(ready, res.id)
				}
			}
			if len(ready) > 0 {
				if err := r.remove(ctx, Intent{Kind: IntentRemove, Nodes: ready, Reason: "drained"}); err != nil {
					return err
				}
			}
		case <-t.C:
			return nil
		}
	}
}

// nextWake keeps the probe cadence fixed (the next probe is due one
// interval after the last, however long this iteration's calls took) and
// wakes early when a node's min_ready ends, so it counts at once.
func (r *run) nextWake() time.Duration {
	s := r.e.o.Strategy
	d := s.ProbeInterval - time.Since(r.lastProbe)
	for _, h := range r.health {
		if h.preexisting || h.announced || h.healthySince.IsZero() {
			continue
		}
		if until := time.Until(h.healthySince.Add(s.MinReady)); until < d {
			d = until
		}
	}
	return max(d, time.Millisecond)
}

// forget marks nodes this run removed as terminating, whatever a stale
// listing says, so they count against the surge budget and are not drained
// or counted twice; and remembers the observation for later events.
func (r *run) forget(p *Pool) {
	clear(r.last)
	for i := range p.Nodes {
		n := &p.Nodes[i]
		if r.removed[n.ID] {
			n.State = NodeTerminating
		}
		r.last[n.ID] = *n
	}
}

func (r *run) drained(res drainResult) error {
	st := r.drains[res.id]
	if st == nil {
		return nil
	}
	st.done, st.err = true, res.err
	if res.err != nil {
		if r.restore {
			// A rollback must finish: remove the node anyway, and say so.
			r.rep.Failures = append(r.rep.Failures, Failure{Node: res.id, Reason: "drain: " + res.err.Error() + " (removed anyway during rollback)"})
			r.e.emit(Event{Type: EventNodeDrained, Node: res.id, Message: "drain failed, removing anyway: " + res.err.Error()})
			return nil
		}
		delete(r.drains, res.id)
		r.rep.Failures = append(r.rep.Failures, Failure{Node: res.id, Reason: "drain: " + res.err.Error()})
		return &failure{reason: fmt.Sprintf("drain of node %s failed: %v", res.id, res.err)}
	}
	r.e.emit(Event{Type: EventNodeDrained, Node: res.id, Message: fmt.Sprintf("drained in %s", time.Since(st.started).Round(time.Millisecond))})
	return nil
}

// waitDrains lets drains in flight finish (they honour ctx) so no goroutine
// outlives the run; results that arrive now are recorded.
func (r *run) waitDrains() {
	done := make(chan struct{})
	go func() { r.inflight.Wait(); close(done) }()
	for {
		select {
		case res := <-r.results:
			if st := r.drains[res.id]; st != nil {
				st.done, st.err = true, res.err
			}
		case <-done:
			for {
				select {
				case res := <-r.results:
					if st := r.drains[res.id]; st != nil {
						st.done, st.err = true, res.err
					}
				default:
					return
				}
			}
		}
	}
}

// waveOf numbers the k-th target node this run added: canary nodes form
// wave 1, then waves of Budget.Concurrency nodes.
func (r *run) waveOf(k int) int {
	if k <= 0 || r.restore {
		return 0
	}
	c := max(1, r.budget.Concurrency())
	if canary := min(r.size, r.e.o.Strategy.CanaryCount); canary > 0 {
		if k <= canary {
			return 1
		}
		return 1 + (k-canary+c-1)/c
	}
	return (k + c - 1) / c
}

// waves emits wave boundaries as target nodes are added and old ones replaced.
func (r *run) waves(target string, now time.Time) {
	if r.restore {
		return
	}
	for w := r.wavesStarted + 1; w <= r.waveOf(r.addedTarget); w++ {
		r.wavesStarted = w
		r.rep.Waves = max(r.rep.Waves, w)
		r.e.emit(Event{Type: EventWaveStarted, Wave: w, Template: target})
	}
	for r.wavesFinished < r.wavesStarted && r.replacedBy(r.wavesFinished+1) {
		r.wavesFinished++
		r.e.emit(Event{Type: EventWaveFinished, Wave: r.wavesFinished, Template: target, Message: fmt.Sprintf("%d node(s) replaced so far", r.rep.Replaced)})
	}
}

func (r *run) replacedBy(w int) bool {
	c := max(1, r.budget.Concurrency())
	need := w * c
	if canary := min(r.size, r.e.o.Strategy.CanaryCount); canary > 0 {
		need = canary + (w-1)*c
	}
	return r.rep.Replaced >= need || (r.rep.Replaced > 0 && r.addedTarget >= r.size && w == r.wavesStarted && r.oldLeft == 0)
}
