package rollout_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// pool builds an observation: spec strings like "old:a" (old, available),
// "old:u" (old, unavailable), "new:a", "new:p" (new, provisioning),
// "new:f" (new, failed), "old:d" (draining), "old:D" (drained), "old:t" (terminating).
func obs(size int, b rollout.Budget, specs ...string) rollout.Observation {
	o := rollout.Observation{Pool: rollout.Pool{Template: rollout.Template{ID: "new"}}, Target: rollout.Template{ID: "new"}, Size: size, Budget: b, MaxNew: size}
	for i, s := range specs {
		tpl, st, _ := strings.Cut(s, ":")
		v := rollout.NodeView{Node: rollout.Node{ID: fmt.Sprintf("%s%d", tpl, i), Template: tpl, State: rollout.NodeRunning, CreatedAt: time.Unix(int64(i), 0)}}
		switch st {
		case "a":
			v.Available = true
		case "p":
			v.State = rollout.NodeProvisioning
		case "f":
			v.Failed, v.FailReason = true, "status 500"
		case "d":
			v.Draining = true
		case "D":
			v.Drained = true
		case "t":
			v.State = rollout.NodeTerminating
		}
		o.Nodes = append(o.Nodes, v)
		if st != "t" {
			o.Pool.Size++
		}
	}
	return o
}

func kinds(in []rollout.Intent) string {
	var parts []string
	for _, i := range in {
		switch i.Kind {
		case rollout.IntentResize:
			parts = append(parts, fmt.Sprintf("resize(%d)", i.Size))
		case rollout.IntentDrain, rollout.IntentRemove, rollout.IntentFail:
			parts = append(parts, fmt.Sprintf("%s(%s)", i.Kind, strings.Join(i.Nodes, ",")))
		default:
			parts = append(parts, string(i.Kind))
		}
	}
	return strings.Join(parts, " ")
}

func TestDecide(t *testing.T) {
	s1u0 := rollout.Budget{Surge: 1, Unavailable: 0}
	s0u1 := rollout.Budget{Surge: 0, Unavailable: 1}
	s2u1 := rollout.Budget{Surge: 2, Unavailable: 1}
	tests := []struct {
		name string
		o    rollout.Observation
		want string
	}{
		{"surge one before anything goes", obs(3, s1u0, "old:a", "old:a", "old:a"), "resize(4)"},
		{"wait for the surge node", obs(3, s1u0, "old:a", "old:a", "old:a", "new:p"), "wait"},
		{"new available: drain oldest old", obs(3, s1u0, "old:a", "old:a", "old:a", "new:a"), "drain(old0)"},
		{"drained: remove", obs(3, s1u0, "old:D", "old:a", "old:a", "new:a"), "remove(old0)"},
		{"terminating still counts against surge", obs(3, s1u0, "old:t", "old:a", "old:a", "new:a"), "wait"},
		{"unavailable budget: drain before surge", obs(3, s0u1, "old:a", "old:a", "old:a"), "drain(old0)"},
		{"a draining node still occupies its place", obs(3, s0u1, "old:d", "old:a", "old:a"), "wait"},
		{"unavailable budget: replace the removed one", obs(3, s0u1, "old:a", "old:a"), "resize(3)"},
		{"surge 2 unavailable 1", obs(4, s2u1, "old:a", "old:a", "old:a", "old:a"), "resize(6) drain(old0)"},
		{"failed new node fails the run", obs(3, s1u0, "old:a", "old:a", "old:a", "new:f"), "fail(new3)"},
		{"unhealthy old node cannot empty the pool", obs(3, s1u0, "old:u", "old:u", "old:u"), "resize(4)"},
		{"unhealthy old goes once a new one serves", obs(3, s1u0, "old:u", "old:a", "old:a", "new:a"), "drain(old0)"},
		{"converged", obs(2, s1u0, "new:a", "new:a"), "done"},
		{"converged but still marked", func() rollout.Observation {
			o := obs(2, s1u0, "new:a", "new:a")
			o.Pool.Origin = "old"
			return o
		}(), "use_template"},
		{"scale down removes newest surplus", obs(2, s1u0, "new:a", "new:a", "new:a", "new:a"), "drain(new3,new2)"},
		{"scale up is not bounded by surge", obs(5, s1u0, "new:a", "new:a"), "resize(5)"},
		{"hold stops adds and available drains", func() rollout.Observation {
			o := obs(3, s1u0, "old:a", "old:a", "new:a", "new:a")
			o.Hold = true
			return o
		}(), "wait"},
		{"canary cap", func() rollout.Observation {
			o := obs(4, rollout.Budget{Surge: 3}, "old:a", "old:a", "old:a", "old:a")
			o.MaxNew = 1
			return o
		}(), "resize(5)"},
		{"template first", func() rollout.Observation {
			o := obs(2, s1u0, "old:a", "old:a")
			o.Pool.Template.ID = "old"
			return o
		}(), "use_template resize(3)"},
		{"invisible launched nodes count against surge", func() rollout.Observation {
			o := obs(3, s1u0, "old:a", "old:a", "old:a")
			o.Pool.Size = 4 // launched, not listed yet
			return o
		}(), "wait"},
		{"restore replaces failed target nodes", func() rollout.Observation {
			o := obs(2, s1u0, "old:u", "new:a", "new:f")
			o.ReplaceFailed = true
			return o
		}(), "remove(new2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rollout.Decide(tt.o)
			if k := kinds(got); k != tt.want {
				t.Fatalf("Decide = %s, want %s\n%v", k, tt.want, got)
			}
			for _, in := range got {
				if in.Reason == "" {
					t.Errorf("intent %s has no reason", in.Kind)
				}
			}
		})
	}
}

func TestPreview(t *testing.T) {
	s := rollout.DefaultStrategy()
	tm := rollout.Timings{NodeReady: 60 * time.Second, Drain: 30 * time.Second}
	v1 := rollout.Template{ID: "t1", Image: "v1", MachineType: "small"}
	pool := rollout.Pool{Template: v1, Size: 4}
	for i := range 4 {
		pool.Nodes = append(pool.Nodes, rollout.Node{ID: fmt.Sprint(i), Template: "t1", State: rollout.NodeRunning})
	}
	roll := rollout.Preview(pool, rollout.Spec{Size: 4, Image: "v2", MachineType: "small"}, s, tm)
	if roll.Action != "roll" || roll.Replace != 4 || len(roll.Waves) != 4 || roll.LowestHealthy != 4 || roll.MaxNodes != 5 {
		t.Fatalf("roll preview = %+v", roll)
	}
	// Four replacements one at a time, each 60s ready + 30s drain.
	if roll.Estimated != 6*time.Minute {
		t.Fatalf("estimate = %s, want 6m0s", roll.Estimated)
	}
	text := roll.String()
	for _, want := range []string{"roll 4 node(s) from image=v1 machine_type=small to image=v2 machine_type=small in 4 wave(s) of up to 1", "lowest healthy: 4 of 4 (minimum allowed 4)", "estimated duration: 6m0s", "wave 4: replace 1 node(s)"} {
		if !strings.Contains(text, want) {
			t.Errorf("preview text lacks %q:\n%s", want, text)
		}
	}

	s.MaxSurge, s.MaxUnavailable = rollout.Percent(50), rollout.Percent(25)
	fast := rollout.Preview(pool, rollout.Spec{Size: 4, Image: "v2", MachineType: "small"}, s, tm)
	if len(fast.Waves) != 2 || fast.LowestHealthy != 3 || fast.MaxNodes != 6 || fast.Estimated >= roll.Estimated {
		t.Fatalf("50%%/25%% preview = %+v", fast)
	}

	scale := rollout.Preview(pool, rollout.Spec{Size: 6, Image: "v1", MachineType: "small"}, rollout.DefaultStrategy(), tm)
	if scale.Action != "scale" || scale.Replace != 0 || scale.Estimated != time.Minute || !strings.Contains(scale.String(), "scale from 4 to 6 node(s)") {
		t.Fatalf("scale preview = %+v\n%s", scale, scale)
	}
	none := rollout.Preview(pool, rollout.Spec{Size: 4, Image: "v1", MachineType: "small"}, rollout.DefaultStrategy(), tm)
	if none.Action != "none" || !strings.Contains(none.String(), "no rollout") {
		t.Fatalf("no-op preview = %s", none)
	}
	create := rollout.Preview(rollout.Pool{}, rollout.Spec{Size: 3, Image: "v1"}, rollout.DefaultStrategy(), tm)
	if create.Action != "create" || create.Estimated != time.Minute || !strings.HasPrefix(create.String(), "create 3 node(s) on image=v1") {
		t.Fatalf("create preview = %+v", create)
	}
	mixed := pool
	mixed.Nodes = append([]rollout.Node(nil), pool.Nodes...)
	mixed.Nodes[0].Template = "t0"
	resume := rollout.Preview(mixed, rollout.Spec{Size: 4, Image: "v1", MachineType: "small"}, rollout.DefaultStrategy(), tm)
	if resume.Action != "roll" || resume.Replace != 1 || !strings.Contains(resume.String(), "did not finish") {
		t.Fatalf("mixed pool preview = %s", resume)
	}
}
