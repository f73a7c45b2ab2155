package asg_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	fake "github.com/noderoll/terraform-provider-noderoll/internal/fakecloud/aws"
	"github.com/noderoll/terraform-provider-noderoll/providers/asg"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
	"github.com/noderoll/terraform-provider-noderoll/rollout/drivertest"
	"github.com/noderoll/terraform-provider-noderoll/rollout/health"
)

const healthPath = "/healthz"

func prober(t *testing.T) rollout.Prober {
	t.Helper()
	p, err := health.NewHTTP(health.HTTPOptions{Port: 18080, Path: healthPath, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConformance(t *testing.T) {
	var mu sync.Mutex
	var current *fake.Cloud
	broken := rollout.Spec{Image: "ami-broken", MachineType: "t3.small"}
	drivertest.Run(t, drivertest.Harness{
		New: func(t *testing.T) (rollout.Driver, rollout.Prober) {
			e := newEnv(t, fake.Options{
				HealthPath:     healthPath,
				ImageBehaviour: map[string]fake.Behaviour{"ami-broken": fake.BehaviourCrash},
			})
			mu.Lock()
			current = e.cloud
			mu.Unlock()
			return e.driver(t, e.options("conf")), prober(t)
		},
		Spec: func(i int) rollout.Spec {
			return rollout.Spec{Image: fmt.Sprintf("ami-%d", i), MachineType: "t3.small"}
		},
		Broken:       &broken,
		Timeout:      20 * time.Second,
		Poll:         20 * time.Millisecond,
		BrokenWindow: 300 * time.Millisecond,
		APICalls: func() int {
			mu.Lock()
			defer mu.Unlock()
			n := 0
			for _, c := range current.Calls() {
				n += c
			}
			return n
		},
	})
}

// TestRollWithExecutor rolls a pool of 4 through the engine with real HTTP
// probes against the fake's per-instance endpoints, then tries a broken AMI
// and checks the pool is back on the previous version at full capacity.
func TestRollWithExecutor(t *testing.T) {
	e := newEnv(t, fake.Options{
		HealthPath:     healthPath,
		BootDelay:      30 * time.Millisecond,
		ImageBehaviour: map[string]fake.Behaviour{"ami-bad": fake.BehaviourUnhealthy, "ami-crash": fake.BehaviourCrash},
	})
	d := e.driver(t, e.options("web"))
	s := rollout.DefaultStrategy()
	s.ProbeInterval = 20 * time.Millisecond
	s.MinReady = 40 * time.Millisecond
	s.NodeDeadline = 2500 * time.Millisecond
	s.DrainTimeout = time.Second
	var events []rollout.Event
	var mu sync.Mutex
	ex, err := rollout.New(rollout.Options{
		Driver: d, Strategy: s, Prober: prober(t),
		OnEvent: func(ev rollout.Event) { mu.Lock(); events = append(events, ev); mu.Unlock() },
	})
	ok(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	v1 := rollout.Spec{Size: 4, Image: "ami-good1", MachineType: "t3.small"}
	rep, err := ex.Apply(ctx, v1)
	if err != nil || rep.Outcome != rollout.OutcomeConverged {
		t.Fatalf("create: %v (%+v)", err, rep)
	}
	first := describe(t, d)
	assertPool(t, first, 4, "ami-good1")

	v2 := rollout.Spec{Size: 4, Image: "ami-good2", MachineType: "t3.small"}
	rep, err = ex.Apply(ctx, v2)
	if err != nil || rep.Outcome != rollout.OutcomeConverged || rep.Replaced != 4 {
		t.Fatalf("roll to ami-good2: %v (%+v)", err, rep)
	}
	if rep.LowestHealthy < 4 {
		t.Errorf("lowest healthy during the roll = %d, want 4 (max_unavailable 0)", rep.LowestHealthy)
	}
	second := describe(t, d)
	assertPool(t, second, 4, "ami-good2")
	for _, n := range second.Nodes {
		for _, o := range first.Nodes {
			if n.ID == o.ID {
				t.Errorf("node %s survived the roll", n.ID)
			}
		}
	}
	g, _ := e.cloud.Group("noderoll-web")
	if g.Max < 4 || len(g.SuspendedProcesses) != 0 || g.Tags["noderoll:origin"] != "" {
		t.Errorf("after the roll, group %+v: want no origin tag and AZRebalance resumed", g)
	}

	// An image that answers 500, and one that never boots a listener and is
	// marked Unhealthy and replaced by Auto Scaling itself.
	for _, bad := range []struct{ image, reason string }{{"ami-bad", "500"}, {"ami-crash", ""}} {
		rep, err = ex.Apply(ctx, rollout.Spec{Size: 4, Image: bad.image, MachineType: "t3.small"})
		if err == nil || rep.Outcome != rollout.OutcomeRolledBack {
			t.Fatalf("roll to %s: outcome %s, err %v; want rolled back", bad.image, rep.Outcome, err)
		}
		if len(rep.Failures) == 0 || !strings.Contains(rep.Failures[0].Reason, bad.reason) {
			t.Errorf("roll to %s: failures %+v, want a probe failure mentioning %q", bad.image, rep.Failures, bad.reason)
		}
		t.Logf("roll to %s: %s, first failure %+v", bad.image, rep.Outcome, rep.Failures[0])
		if rep.LowestHealthy < 4 {
			t.Errorf("roll to %s: lowest healthy %d, want 4 throughout (max_unavailable 0)", bad.image, rep.LowestHealthy)
		}
		after := waitPool(t, d, "4 nodes after the rollback", func(p rollout.Pool) bool {
			return len(p.Nodes) == 4
		})
		assertPool(t, after, 4, "ami-good2")
		if after.Template.ID != second.Template.ID || after.Origin != "" {
			t.Errorf("after rollback the group points at %s (origin %q), want %s and no origin", after.Template.ID, after.Origin, second.Template.ID)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var rolledBack bool
	for _, ev := range events {
		rolledBack = rolledBack || ev.Type == rollout.EventRolledBack
	}
	if !rolledBack {
		t.Errorf("no rolled_back event among %d events", len(events))
	}
}

func assertPool(t *testing.T, p rollout.Pool, size int, image string) {
	t.Helper()
	if p.Size != size || len(p.Nodes) != size || p.Template.Image != image {
		t.Fatalf("pool size %d with %d nodes on %s, want %d on %s:\n%+v", p.Size, len(p.Nodes), p.Template.Image, size, image, p)
	}
	for _, n := range p.Nodes {
		if n.Template != p.Template.ID || n.State != rollout.NodeRunning {
			t.Fatalf("node %+v, want running on %s", n, p.Template.ID)
		}
	}
}

// TestRollUnderThrottling rolls a pool through the executor while the fake
// throttles every API hard and fails some calls with 5xx: the SDK's retries
// and the engine's own retry policy carry the rollout through.
func TestRollUnderThrottling(t *testing.T) {
	b := fake.Bucket{Size: 3, RefillPerSecond: 30}
	e := newEnv(t, fake.Options{
		HealthPath: healthPath,
		BootDelay:  30 * time.Millisecond,
		Throttle:   &fake.Limits{EC2Describe: b, EC2Mutate: b, ASGDescribe: b, ASGMutate: b},
	})
	o := e.options("web")
	o.Retry = asg.RetryOptions{MaxAttempts: 4, BaseDelay: time.Millisecond, ThrottleBaseDelay: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	d := e.driver(t, o)
	s := rollout.DefaultStrategy()
	s.MaxSurge = rollout.Count(2)
	s.ProbeInterval = 20 * time.Millisecond
	s.MinReady = 40 * time.Millisecond
	s.NodeDeadline = 5 * time.Second
	var retries int
	ex, err := rollout.New(rollout.Options{Driver: d, Strategy: s, Prober: prober(t), OnEvent: func(ev rollout.Event) {
		if ev.Type == rollout.EventRetry {
			retries++
		}
	}})
	ok(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if rep, err := ex.Apply(ctx, rollout.Spec{Size: 4, Image: "ami-1", MachineType: "t3.small"}); err != nil {
		t.Fatalf("create under throttling: %v (%+v)", err, rep)
	}
	e.cloud.FailNext("UpdateAutoScalingGroup", 1, "ServiceUnavailable")
	e.cloud.FailNext("TerminateInstanceInAutoScalingGroup", 1, "InternalError")
	e.cloud.FailNext("DescribeAutoScalingGroups", 2, "InternalError")
	rep, err := ex.Apply(ctx, rollout.Spec{Size: 4, Image: "ami-2", MachineType: "t3.small"})
	if err != nil || rep.Replaced != 4 {
		t.Fatalf("roll under throttling: %v (%+v)", err, rep)
	}
	assertPool(t, describe(t, d), 4, "ami-2")
	th := 0
	for _, n := range e.cloud.Throttled() {
		th += n
	}
	if th == 0 {
		t.Fatal("the fake never throttled: the test proves nothing")
	}
	t.Logf("throttled responses %d, engine-level retries %d, calls %v", th, retries, e.cloud.Calls())
}

// TestInterruptedRollResumes cancels a roll mid-way, then finishes it from a
// fresh driver and executor (another process): the origin is read back from
// the group's tag, and nothing else is remembered.
func TestInterruptedRollResumes(t *testing.T) {
	e := newEnv(t, fake.Options{HealthPath: healthPath, BootDelay: 30 * time.Millisecond})
	s := rollout.DefaultStrategy()
	s.ProbeInterval = 20 * time.Millisecond
	s.MinReady = 40 * time.Millisecond
	s.NodeDeadline = 3 * time.Second
	newExecutor := func(d *asg.Driver, onEvent func(rollout.Event)) *rollout.Executor {
		ex, err := rollout.New(rollout.Options{Driver: d, Strategy: s, Prober: prober(t), OnEvent: onEvent})
		ok(t, err)
		return ex
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d1 := e.driver(t, e.options("web"))
	if _, err := newExecutor(d1, nil).Apply(ctx, rollout.Spec{Size: 4, Image: "ami-1", MachineType: "t3.small"}); err != nil {
		t.Fatal(err)
	}
	v1 := describe(t, d1).Template

	runCtx, stop := context.WithCancel(ctx)
	removed := 0
	rep, err := newExecutor(d1, func(ev rollout.Event) {
		if ev.Type == rollout.EventNodeRemoved {
			if removed++; removed == 2 {
				stop() // the CI job is killed half way
			}
		}
	}).Apply(runCtx, rollout.Spec{Size: 4, Image: "ami-2", MachineType: "t3.small"})
	stop()
	if err == nil || rep.Outcome != rollout.OutcomeInterrupted {
		t.Fatalf("interrupted roll: outcome %s, err %v", rep.Outcome, err)
	}
	mid := describe(t, d1)
	if mid.Origin != v1.ID || mid.Template.Image != "ami-2" {
		t.Fatalf("after the interruption: template %+v origin %q, want ami-2 with origin %s", mid.Template, mid.Origin, v1.ID)
	}
	if g, _ := e.cloud.Group("noderoll-web"); fmt.Sprint(g.SuspendedProcesses) != "[AZRebalance]" {
		t.Fatalf("AZRebalance not suspended mid-rollout: %v", g.SuspendedProcesses)
	}

	d2 := e.driver(t, e.options("web")) // a new process: empty caches
	rep, err = newExecutor(d2, nil).Apply(ctx, rollout.Spec{Size: 4, Image: "ami-2", MachineType: "t3.small"})
	if err != nil || rep.Outcome != rollout.OutcomeConverged {
		t.Fatalf("resumed roll: %v (%+v)", err, rep)
	}
	end := describe(t, d2)
	assertPool(t, end, 4, "ami-2")
	if end.Origin != "" || end.Template.ID != mid.Template.ID {
		t.Fatalf("after resuming: template %s origin %q, want %s and no origin", end.Template.ID, end.Origin, mid.Template.ID)
	}
	if g, _ := e.cloud.Group("noderoll-web"); len(g.SuspendedProcesses) != 0 {
		t.Fatalf("AZRebalance still suspended after the roll: %v", g.SuspendedProcesses)
	}

	// terraform destroy: drain and remove every node, then delete the group
	// and the versions noderoll made; the base template stays.
	if rep, err := newExecutor(d2, nil).Destroy(ctx); err != nil {
		t.Fatalf("Destroy: %v (%+v)", err, rep)
	}
	waitGone := time.Now().Add(10 * time.Second)
	for {
		if _, ok := e.cloud.Group("noderoll-web"); !ok {
			break
		}
		if time.Now().After(waitGone) {
			t.Fatal("group still there after Destroy")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v := e.cloud.LaunchTemplateVersions(e.baseID); fmt.Sprint(v) != "[1]" {
		t.Fatalf("versions after Destroy = %v, want only the base's [1]", v)
	}
}
