package provider

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

func TestStrategyDefaultsWhenBlocksAbsent(t *testing.T) {
	m := nodePoolModel{}
	if got, want := m.strategy(), rollout.DefaultStrategy(); got != want {
		t.Fatalf("strategy() = %+v, want the engine default %+v", got, want)
	}
}

func TestStrategyFromBlocks(t *testing.T) {
	m := nodePoolModel{
		Rollout: &rolloutModel{
			MaxSurge: types.StringValue("25%"), MaxUnavailable: types.StringValue("1"),
			MinReady: types.StringValue("300ms"), NodeDeadline: types.StringValue("20s"),
			ProgressDeadline: types.StringNull(), PauseBetweenWaves: types.StringValue("1s"),
			CanaryCount: types.Int64Value(2), CanarySoak: types.StringValue("5s"), OnFailure: types.StringValue("halt"),
		},
		HealthCheck: &healthCheckModel{Interval: types.StringValue("200ms"), Timeout: types.StringValue("100ms"), HealthyThreshold: types.Int64Value(1)},
		Drain:       &drainModel{Timeout: types.StringValue("3s"), Command: types.ListNull(types.StringType)},
	}
	want := rollout.DefaultStrategy()
	want.MaxSurge, want.MaxUnavailable = rollout.Percent(25), rollout.Count(1)
	want.MinReady, want.NodeDeadline, want.PauseBetweenWaves = 300*time.Millisecond, 20*time.Second, time.Second
	want.CanaryCount, want.CanarySoak, want.OnFailure = 2, 5*time.Second, rollout.Halt
	want.ProbeInterval, want.HealthyThreshold, want.DrainTimeout = 200*time.Millisecond, 1, 3*time.Second
	if got := m.strategy(); got != want {
		t.Fatalf("strategy() =\n%+v, want\n%+v", got, want)
	}
	if got := m.probeTimeout(); got != 100*time.Millisecond {
		t.Fatalf("probeTimeout() = %s, want 100ms", got)
	}
}

func TestEngineDiagnosticsNameTheAttribute(t *testing.T) {
	s := rollout.DefaultStrategy()
	s.MaxSurge, s.MaxUnavailable = rollout.Count(0), rollout.Count(0)
	s.MinReady, s.NodeDeadline = time.Minute, 30*time.Second
	diags := engineDiagnostics(s.Validate())
	if len(diags) != 2 {
		t.Fatalf("got %d diagnostics, want 2: %v", len(diags), diags)
	}
	got := diags[0].Detail() + "\n" + diags[1].Detail()
	for _, want := range []string{`rollout.max_surge = "0" with max_unavailable = "0" is invalid`, "rollout.node_deadline = 30s is invalid: want more than min_ready (1m0s)"} {
		if !strings.Contains(got, want) {
			t.Errorf("diagnostics %q lack %q", got, want)
		}
	}
	other := engineDiagnostics([]error{errors.New("boom")})
	if other[0].Summary() != "Invalid Node Pool Configuration" || other[0].Detail() != "boom" {
		t.Fatalf("unmapped error: %v", other)
	}
}

func pool(origin string, size int, nodes ...rollout.Node) rollout.Pool {
	return rollout.Pool{Name: "web", Template: rollout.Template{ID: "t2", Image: "v2", MachineType: "small"}, Origin: origin, Size: size, Nodes: nodes}
}

func node(id, tpl string, st rollout.NodeState) rollout.Node {
	return rollout.Node{ID: id, Template: tpl, State: st, Address: "127.0.0.1", Zone: "local"}
}

func TestObservedImage(t *testing.T) {
	cases := []struct {
		name string
		p    rollout.Pool
		want string
	}{
		{"converged", pool("", 2, node("a", "t2", rollout.NodeRunning), node("b", "t2", rollout.NodeRunning)), "v2"},
		{"mixed after an interruption", pool("t1", 3, node("a", "t1", rollout.NodeRunning), node("b", "t2", rollout.NodeRunning), node("c", "t2", rollout.NodeProvisioning)),
			"v2 (not converged: a rollout from t1 did not finish; 1 of 3 nodes run another template; 1 of 3 nodes are not running)"},
		{"short of size", pool("", 3, node("a", "t2", rollout.NodeRunning)), "v2 (not converged: 1 nodes for a desired size of 3)"},
		{"dead node", pool("", 1, node("a", "t2", rollout.NodeFailed)), "v2 (not converged: 1 of 1 nodes are not running)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := observedImage(c.p); got != c.want {
				t.Fatalf("observedImage = %q, want %q", got, c.want)
			}
		})
	}
}

func TestNodesValueSortedWithHealth(t *testing.T) {
	nodes := []rollout.Node{node("b", "t2", rollout.NodeRunning), node("a", "t2", rollout.NodeRunning), node("c", "t2", rollout.NodeTerminating)}
	l, diags := nodesValue(nodes, map[string]bool{"a": true, "b": false, "c": true})
	if diags.HasError() {
		t.Fatal(diags)
	}
	var got []struct {
		ID       string `tfsdk:"id"`
		Address  string `tfsdk:"address"`
		Zone     string `tfsdk:"zone"`
		Template string `tfsdk:"template"`
		Healthy  bool   `tfsdk:"healthy"`
	}
	if d := l.ElementsAs(context.Background(), &got, false); d.HasError() {
		t.Fatal(d)
	}
	if len(got) != 3 || got[0].ID != "a" || got[1].ID != "b" || got[2].ID != "c" {
		t.Fatalf("order: %+v", got)
	}
	if !got[0].Healthy || got[1].Healthy || got[2].Healthy {
		t.Fatalf("health: want a healthy, b failed its probe, c terminating: %+v", got)
	}
}

func TestLastRolloutKeepsEarlierTimingsAndFeedsThePreview(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	first, diags := lastRolloutValue(ctx, rollout.Report{Outcome: rollout.OutcomeConverged, Started: start, Finished: start.Add(time.Minute),
		To: "t2", Replaced: 2, Added: 2, Removed: 2,
		NodeReady: []time.Duration{time.Second, 3 * time.Second}, Drain: []time.Duration{500 * time.Millisecond}}, nil, types.ObjectNull(lastRolloutAttrTypes))
	if diags.HasError() {
		t.Fatal(diags)
	}
	s := rollout.DefaultStrategy()
	if tm := timingsOf(ctx, first, true, s, time.Second); tm.NodeReady != 2*time.Second || tm.Drain != 500*time.Millisecond {
		t.Fatalf("timings = %+v, want the means 2s and 500ms", tm)
	}
	// A scale-down measures no node start: the earlier measurement stays.
	second, diags := lastRolloutValue(ctx, rollout.Report{Outcome: rollout.OutcomeRolledBack, Started: start, Finished: start,
		Drain: []time.Duration{time.Second}}, errors.New("rollout to t3 failed and was rolled back to t2\n  node x: status 500"), first)
	if diags.HasError() {
		t.Fatal(diags)
	}
	m, ok := lastRolloutOf(ctx, second)
	if !ok || m.NodeReadySeconds.ValueFloat64() != 2 || m.DrainSeconds.ValueFloat64() != 1 || !m.RolledBack.ValueBool() || m.Started.ValueString() != "2026-01-02T03:04:05Z" ||
		m.Message.ValueString() != "rollout to t3 failed and was rolled back to t2" {
		t.Fatalf("second = %+v", m)
	}
	if f, _ := lastRolloutOf(ctx, first); f.Message.ValueString() != "converged on t2: 2 replaced, 2 added, 2 removed in 1m0s" {
		t.Fatalf("first message %q", f.Message.ValueString())
	}
	if tm := timingsOf(ctx, types.ObjectNull(lastRolloutAttrTypes), false, s, 0); tm.NodeReady != 0 || tm.Drain != removeEstimate {
		t.Fatalf("no history, no drain step, unknown boot: %+v, want the engine's default node start and a removal estimate", tm)
	}
	// Known boot time: boot + 2 probes 5s apart + 10s min_ready.
	if tm := timingsOf(ctx, types.ObjectNull(lastRolloutAttrTypes), true, s, time.Second); tm.NodeReady != 21*time.Second || tm.Drain != 0 {
		t.Fatalf("no history, known boot: %+v, want 21s and the engine's default drain", tm)
	}
}

func TestRolloutPlanValue(t *testing.T) {
	p := rollout.Preview(pool("", 2, node("a", "t2", rollout.NodeRunning), node("b", "t2", rollout.NodeRunning)),
		rollout.Spec{Size: 2, Image: "v3", MachineType: "small"}, rollout.DefaultStrategy(), rollout.Timings{NodeReady: time.Second, Drain: time.Second})
	v, diags := rolloutPlanValue(p)
	if diags.HasError() {
		t.Fatal(diags)
	}
	a := v.Attributes()
	if a["action"].(types.String).ValueString() != "roll" || a["replaced"].(types.Int64).ValueInt64() != 2 || a["waves"].(types.Int64).ValueInt64() != 2 ||
		a["lowest_healthy"].(types.Int64).ValueInt64() != 2 || a["max_nodes"].(types.Int64).ValueInt64() != 3 {
		t.Fatalf("rollout_plan = %v", v)
	}
	if s := a["summary"].(types.String).ValueString(); !strings.Contains(s, "roll 2 node(s) from image=v2 machine_type=small to image=v3") {
		t.Fatalf("summary %q", s)
	}
}

func TestParseImportID(t *testing.T) {
	cases := []struct {
		id, dir, name string
		port          int
		err           string
	}{
		{"web", "", "web", 0, ""},
		{"/var/lib/noderoll/web", "/var/lib/noderoll", "web", 0, ""},
		{"state/web-2:9090", "state", "web-2", 9090, ""},
		{"/web", "/", "web", 0, ""},
		{"/tmp/Web", "", "", 0, "want <state_dir>/<name> or <name>"},
		{"web:0", "", "", 0, "optionally followed by :<port>"},
		{"web:http", "", "", 0, "optionally followed by :<port>"},
		{"", "", "", 0, "want <state_dir>/<name> or <name>"},
	}
	for _, c := range cases {
		dir, name, port, err := parseImportID(c.id)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v, want %q", c.id, err, c.err)
			}
			continue
		}
		if err != nil || dir != c.dir || name != c.name || port != c.port {
			t.Errorf("%q: (%q, %q, %d, %v), want (%q, %q, %d)", c.id, dir, name, port, err, c.dir, c.name, c.port)
		}
	}
}

func TestCommandChanged(t *testing.T) {
	cmd := func(s ...string) types.List {
		l, _ := types.ListValueFrom(context.Background(), types.StringType, s)
		return l
	}
	env := types.MapNull(types.StringType)
	a := &localModel{Command: cmd("app", "v"), Env: env}
	if commandChanged(a, &localModel{Command: cmd("app", "v"), Env: env}) {
		t.Error("same command reported changed")
	}
	if !commandChanged(a, &localModel{Command: cmd("app", "w"), Env: env}) {
		t.Error("changed command not reported")
	}
	if commandChanged(&localModel{Command: types.ListNull(types.StringType), Env: env}, a) {
		t.Error("an imported pool (unknown prior command) reported changed")
	}
}

func TestFailureDetailSaysWhatHappenedAndWhatToDo(t *testing.T) {
	rep := rollout.Report{Outcome: rollout.OutcomeRolledBack, From: "t1", To: "t3",
		Failures: []rollout.Failure{{Node: "web-9", Reason: "probe: GET http://127.0.0.9:80/healthz: status 500"}}}
	nodes, _ := nodesValue([]rollout.Node{node("a", "t1", rollout.NodeRunning)}, map[string]bool{"a": true})
	now := nodePoolModel{Image: types.StringValue("v1"), Template: types.StringValue("t1"), Nodes: nodes}
	got := failureDetail(rollout.Spec{Image: "v3", MachineType: "small"}, "web", rep, &rollout.RolloutError{Report: rep},
		now, true, func(id string) string { return "/logs/" + id + ".log" })
	for _, want := range []string{
		`Pool "web" did not converge on image=v3 machine_type=small (template t3): outcome rolled_back.`,
		"web-9: probe: GET http://127.0.0.9:80/healthz: status 500", "/logs/web-9.log",
		"The pool now: 1 nodes (1 healthy), image v1, template t1.", "back on its previous template",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("detail lacks %q:\n%s", want, got)
		}
	}
	if s := failureSummary(rep); s != "Node Pool Rollout Failed And Was Rolled Back" {
		t.Errorf("summary %q", s)
	}
}

func TestParseAWSImportID(t *testing.T) {
	for _, c := range []struct{ id, region, group, name, err string }{
		{id: "aws_asg:noderoll-web", group: "noderoll-web", name: "web"},
		{id: "aws_asg:eu-west-1/noderoll-web", region: "eu-west-1", group: "noderoll-web", name: "web"},
		{id: "aws_asg:legacy-web", group: "legacy-web", name: "legacy-web"},
		{id: "aws_asg:us-gov-west-1/api", region: "us-gov-west-1", group: "api", name: "api"},
		{id: "aws_asg:teams/web", group: "teams/web", err: "does not make a pool name"},
		{id: "aws_asg:Web_Prod", err: "does not make a pool name"},
		{id: "aws_asg:", err: "want aws_asg:<group_name> or aws_asg:<region>/<group_name>"},
		{id: "aws_asg:eu-west-1/", err: "want aws_asg:<group_name>"},
	} {
		region, group, name, err := parseAWSImportID(c.id)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want one containing %q", c.id, err, c.err)
			}
			continue
		}
		if err != nil || region != c.region || group != c.group || name != c.name {
			t.Errorf("%q = %q, %q, %q, %v; want %q, %q, %q", c.id, region, group, name, err, c.region, c.group, c.name)
		}
	}
}
