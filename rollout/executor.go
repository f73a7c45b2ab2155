package rollout

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options configure an Executor.
type Options struct {
	Driver   Driver
	Strategy Strategy
	// Prober decides whether a node serves; required.
	Prober Prober
	// Drainer evacuates a node before removal; nil removes without a drain.
	Drainer Drainer
	// OnEvent receives every step, synchronously and in order.
	OnEvent func(Event)
	// ProbeConcurrency bounds probes in flight; 0 means 32.
	ProbeConcurrency int
	// Retry decides retries of failed cloud calls; nil means DefaultRetry.
	Retry RetryPolicy
	// SettledProbeEvery probes nodes that already serve and count (old nodes,
	// new nodes past min_ready) only every k-th tick, spread across ticks;
	// nodes still earning their place are probed every tick. 0 means 3;
	// 1 probes every node every tick.
	SettledProbeEvery int
}

// Executor reconciles a pool towards a spec through a Driver. It keeps no
// journal: every run starts from what Describe reports, so a run that
// follows an interrupted one continues where the cloud says it stands.
type Executor struct {
	o     Options
	retry RetryPolicy
}

// New validates the options and returns an executor.
func New(o Options) (*Executor, error) {
	if o.Driver == nil {
		return nil, errors.New("rollout: Options.Driver is required")
	}
	if o.Prober == nil {
		return nil, errors.New("rollout: Options.Prober is required: say how node health is checked")
	}
	if errs := o.Strategy.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("rollout: invalid strategy: %w", errors.Join(errs...))
	}
	if o.ProbeConcurrency <= 0 {
		o.ProbeConcurrency = 32
	}
	if o.SettledProbeEvery <= 0 {
		o.SettledProbeEvery = 3
	}
	e := &Executor{o: o, retry: o.Retry}
	if e.retry == nil {
		e.retry = DefaultRetry
	}
	return e, nil
}

// RolloutError is returned when a run does not converge. It carries the
// report; Error() reads as one.
type RolloutError struct {
	Report Report
	Cause  error
}

func (e *RolloutError) Error() string {
	r := e.Report
	var b strings.Builder
	switch r.Outcome {
	case OutcomeRolledBack:
		fmt.Fprintf(&b, "rollout to %s failed and was rolled back to %s", r.To, r.From)
	case OutcomeHalted:
		fmt.Fprintf(&b, "rollout to %s failed and halted (on_failure = \"halt\"): the pool was left as it is", r.To)
	case OutcomeInterrupted:
		fmt.Fprintf(&b, "rollout to %s was interrupted; a new run continues from what the pool shows", r.To)
	default:
		fmt.Fprintf(&b, "rollout to %s failed", r.To)
	}
	if e.Cause != nil {
		fmt.Fprintf(&b, ": %v", e.Cause)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "\n  node %s: %s", f.Node, f.Reason)
	}
	if r.Message != "" {
		fmt.Fprintf(&b, "\n%s", r.Message)
	}
	return b.String()
}

func (e *RolloutError) Unwrap() error { return e.Cause }

// failure is a rollout that cannot go on: failed nodes or a deadline.
type failure struct {
	reason string
}

func (f *failure) Error() string { return f.reason }

func (e *Executor) emit(ev Event) {
	if e.o.OnEvent != nil {
		if ev.Time.IsZero() {
			ev.Time = time.Now()
		}
		e.o.OnEvent(ev)
	}
}

// Apply converges the pool to spec: it creates the group when the driver
// can and it does not exist, points it at the spec's template, replaces
// nodes on other templates by surge and drain, and scales to spec.Size,
// all gated on health. On failure it rolls back or halts as the strategy
// says. The error is nil only when the outcome is OutcomeConverged; then
// it is a *RolloutError carrying the report.
func (e *Executor) Apply(ctx context.Context, spec Spec) (Report, error) {
	rep := Report{Started: time.Now()}
	if errs := spec.Validate(); len(errs) > 0 {
		return e.finish(rep, OutcomeFailed, fmt.Errorf("invalid spec: %w", errors.Join(errs...)))
	}
	d := e.o.Driver
	t, err := call(ctx, e, "prepare template", func(ctx context.Context) (Template, error) { return d.PrepareTemplate(ctx, spec) })
	if err != nil {
		return e.finish(rep, e.interruptedOr(ctx, OutcomeFailed), err)
	}
	rep.To = t.ID
	pool, err := e.describe(ctx)
	if err != nil && CodeOf(d, err) == NotFound {
		lc, ok := d.(Lifecycle)
		if !ok {
			return e.finish(rep, OutcomeFailed, fmt.Errorf("the group does not exist and this backend cannot create it: %w", err))
		}
		if _, err := call(ctx, e, "create group", func(ctx context.Context) (struct{}, error) { return struct{}{}, lc.Create(ctx, t) }); err != nil {
			return e.finish(rep, e.interruptedOr(ctx, OutcomeFailed), err)
		}
		pool, err = e.describe(ctx)
	}
	if err != nil {
		return e.finish(rep, e.interruptedOr(ctx, OutcomeFailed), err)
	}

	// Where to roll back to: the group's template when this run moves it,
	// or the mark an interrupted run left.
	origin := pool.Origin
	if pool.Template.ID != "" && pool.Template.ID != t.ID {
		origin = pool.Template.ID
	}
	if origin == t.ID {
		origin = ""
	}
	rep.From = nameOr(origin, t.ID)
	rolling := false
	for _, n := range pool.Nodes {
		if n.State != NodeTerminating && n.Template != t.ID {
			rolling = true
		}
	}
	e.emit(Event{Type: EventStarted, Template: t.ID, Message: startMessage(pool, t, spec.Size, rolling)})

	r := newRun(e, &rep, spec.Size, pool, t.ID)
	// A pool that is all on the target with nothing to roll back to is being
	// repaired or scaled: a node that dies is replaced, not a failed rollout.
	r.repair = origin == "" && !rolling && len(pool.Nodes) > 0
	err = r.converge(ctx, t, origin, false, rolling)
	switch {
	case err == nil:
		return e.finish(rep, OutcomeConverged, nil)
	case ctx.Err() != nil:
		return e.finish(rep, OutcomeInterrupted, ctx.Err())
	}
	var f *failure
	if !errors.As(err, &f) {
		// A cloud call failed for good: the rollout cannot go on, so treat it
		// as a failed wave and restore what we can.
		e.emit(Event{Type: EventNodeFailed, Message: err.Error()})
	}
	if e.o.Strategy.OnFailure == Halt {
		e.emit(Event{Type: EventHalted, Message: err.Error()})
		return e.finish(rep, OutcomeHalted, err)
	}
	if origin == "" {
		return e.finish(rep, OutcomeFailed, fmt.Errorf("%w (no previous template to roll back to)", err))
	}
	e.emit(Event{Type: EventRollingBack, Template: origin, Message: "pointing the group back at " + origin + " and restoring the pool: " + err.Error()})
	back := r.restoreRun()
	if rbErr := back.converge(ctx, Template{ID: origin}, "", true, true); rbErr != nil {
		if ctx.Err() != nil {
			return e.finish(rep, OutcomeInterrupted, fmt.Errorf("%v; then the rollback was interrupted: %w", err, ctx.Err()))
		}
		return e.finish(rep, OutcomeFailed, fmt.Errorf("%v; then the rollback failed too: %w", err, rbErr))
	}
	e.emit(Event{Type: EventRolledBack, Template: origin, Message: fmt.Sprintf("%d node(s) on %s and available", spec.Size, origin)})
	return e.finish(rep, OutcomeRolledBack, err)
}

func startMessage(p Pool, t Template, size int, rolling bool) string {
	counts := map[string]int{}
	for _, n := range p.Nodes {
		if n.State != NodeTerminating {
			counts[n.Template]++
		}
	}
	var parts []string
	for id, c := range counts {
		parts = append(parts, fmt.Sprintf("%d on %s", c, id))
	}
	sort.Strings(parts)
	have := "no nodes"
	if len(parts) > 0 {
		have = strings.Join(parts, ", ")
	}
	verb := "scale"
	if rolling {
		verb = "roll"
	}
	return fmt.Sprintf("%s to %d node(s) on %s; pool has %s", verb, size, t.ID, have)
}

func (e *Executor) interruptedOr(ctx context.Context, o Outcome) Outcome {
	if ctx.Err() != nil {
		return OutcomeInterrupted
	}
	return o
}

func (e *Executor) finish(rep Report, o Outcome, err error) (Report, error) {
	rep.Outcome = o
	rep.Finished = time.Now()
	e.emit(Event{Type: EventFinished, Template: rep.To, Message: fmt.Sprintf("%s: replaced %d, added %d, removed %d, %d failure(s), in %s", o, rep.Replaced, rep.Added, rep.Removed, len(rep.Failures), rep.Duration().Round(time.Millisecond))})
	if o == OutcomeConverged {
		return rep, nil
	}
	return rep, &RolloutError{Report: rep, Cause: err}
}

func (e *Executor) describe(ctx context.Context) (Pool, error) {
	return call(ctx, e, "describe pool", e.o.Driver.Describe)
}

// Destroy drains and removes every node, then deletes the group when the
// driver can. Drain failures are reported, and the node is removed anyway:
// the pool is going away.
func (e *Executor) Destroy(ctx context.Context) (Report, error) {
	rep := Report{Started: time.Now()}
	d := e.o.Driver
	pool, err := e.describe(ctx)
	if err != nil {
		if CodeOf(d, err) == NotFound {
			return e.finish(rep, OutcomeConverged, nil)
		}
		return e.finish(rep, e.interruptedOr(ctx, OutcomeFailed), err)
	}
	rep.From, rep.To = pool.Template.ID, ""
	e.emit(Event{Type: EventStarted, Message: fmt.Sprintf("destroy: drain and remove %d node(s)", len(pool.Nodes))})
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		remove []string
	)
	sem := make(chan struct{}, e.o.ProbeConcurrency)
	for _, n := range pool.Nodes {
		if n.State == NodeTerminating {
			continue
		}
		wg.Add(1)
		go func(n Node) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if n.State == NodeRunning {
				if err := e.drain(ctx, n); err != nil {
					mu.Lock()
					rep.Failures = append(rep.Failures, Failure{Node: n.ID, Reason: "drain: " + err.Error() + " (removed anyway)"})
					mu.Unlock()
				}
			}
			mu.Lock()
			remove = append(remove, n.ID)
			mu.Unlock()
		}(n)
	}
	wg.Wait()
	if ctx.Err() != nil {
		return e.finish(rep, OutcomeInterrupted, ctx.Err())
	}
	sort.Strings(remove)
	if len(remove) > 0 {
		if _, err := call(ctx, e, "remove nodes", func(ctx context.Context) (struct{}, error) { return struct{}{}, d.RemoveNodes(ctx, remove) }); err != nil {
			return e.finish(rep, e.interruptedOr(ctx, OutcomeFailed), err)
		}
		for _, id := range remove {
			rep.Removed++
			e.emit(Event{Type: EventNodeRemoved, Node: id, Message: "pool destroyed"})
		}
	}
	if _, err := call(ctx, e, "resize to 0", func(ctx context.Context) (struct{}, error) { return struct{}{}, d.Resize(ctx, 0) }); err != nil {
		return e.finish(rep, e.interruptedOr(ctx, OutcomeFailed), err)
	}
	// Wait for the cloud to finish terminating before deleting the group.
	for {
		p, err := e.describe(ctx)
		if err != nil {
			if CodeOf(d, err) == NotFound {
				break
			}
			return e.finish(rep, e.interruptedOr(ctx, OutcomeFailed), err)
		}
		if len(p.Nodes) == 0 {
			break
		}
		if err := sleep(ctx, e.o.Strategy.ProbeInterval); err != nil {
			return e.finish(rep, OutcomeInterrupted, err)
		}
	}
	if lc, ok := d.(Lifecycle); ok {
		if _, err := call(ctx, e, "delete group", func(ctx context.Context) (struct{}, error) { return struct{}{}, lc.Delete(ctx) }); err != nil {
			return e.finish(rep, e.interruptedOr(ctx, OutcomeFailed), err)
		}
	}
	return e.finish(rep, OutcomeConverged, nil)
}

func (e *Executor) drain(ctx context.Context, n Node) error {
	if e.o.Drainer == nil {
		return nil
	}
	if t := e.o.Strategy.DrainTimeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
		err := e.o.Drainer.Drain(ctx, n)
		if err != nil && ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("timed out after %s: %w", t, err)
		}
		return err
	}
	return e.o.Drainer.Drain(ctx, n)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
