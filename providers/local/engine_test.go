//go:build linux

package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// The engine rolls a pool of real processes: create, roll to a good image,
// fail on an image whose health check fails and on one that crashes, roll
// back both times, destroy.
func TestEngineRollsRealProcesses(t *testing.T) {
	e := newEnv(t)
	d := e.driver(e.options("web"))
	s := rollout.DefaultStrategy()
	s.ProbeInterval = 50 * time.Millisecond
	s.HealthyThreshold = 2
	s.MinReady = 100 * time.Millisecond
	s.NodeDeadline = 3 * time.Second
	var events []rollout.Event
	ex, err := rollout.New(rollout.Options{
		Driver:   d,
		Strategy: s,
		Prober:   healthz{},
		OnEvent:  func(ev rollout.Event) { events = append(events, ev) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	apply := func(image string) (rollout.Report, error) {
		events = nil
		return ex.Apply(ctx, rollout.Spec{Size: 3, Image: image, MachineType: "small"})
	}
	// onImage checks the pool has 3 running nodes all serving version.
	onImage := func(version string) rollout.Pool {
		t.Helper()
		p := describe(t, d)
		if p.Template.Image != version || p.Origin != "" || p.Size != 3 || len(p.Nodes) != 3 {
			t.Fatalf("want 3 nodes on %s:\n%s", version, format(p))
		}
		for _, n := range p.Nodes {
			if n.Template != p.Template.ID || n.State != rollout.NodeRunning {
				t.Errorf("node %s: %s on %s", n.ID, n.State, n.Template)
			}
			if status, body := get(t, n, "/healthz"); status != 200 || body != "ok version="+version+"\n" {
				t.Errorf("node %s answers %d %q, want version %s", n.ID, status, body, version)
			}
		}
		return p
	}

	if rep, err := apply("v1"); err != nil {
		t.Fatalf("create on v1: %v", err)
	} else if rep.Added != 3 {
		t.Errorf("create added %d nodes, want 3", rep.Added)
	}
	v1 := onImage("v1")

	rep, err := apply("v2")
	if err != nil {
		t.Fatalf("roll to v2: %v", err)
	}
	if rep.Replaced != 3 {
		t.Errorf("roll to v2 replaced %d nodes, want 3", rep.Replaced)
	}
	v2 := onImage("v2")
	for _, n := range v2.Nodes {
		for _, old := range v1.Nodes {
			if n.ID == old.ID {
				t.Errorf("node %s of v1 survived the roll", n.ID)
			}
		}
	}

	for _, broken := range []string{"v3", "v3-crash"} {
		rep, err := apply(broken)
		var re *rollout.RolloutError
		if !errors.As(err, &re) || rep.Outcome != rollout.OutcomeRolledBack {
			t.Fatalf("apply %s: outcome %s, error %v; want rolled back", broken, rep.Outcome, err)
		}
		if len(rep.Failures) == 0 {
			t.Errorf("apply %s: no failures reported: %+v", broken, rep)
		}
		// Rolling back keeps the v2 nodes that never left.
		after := onImage("v2")
		kept := 0
		for _, n := range after.Nodes {
			for _, old := range v2.Nodes {
				if n.ID == old.ID {
					kept++
				}
			}
		}
		if kept != 3 {
			t.Errorf("apply %s: %d of the 3 v2 nodes kept, want all (surge 1, unavailable 0):\n%s", broken, kept, format(after))
		}
	}
	// The crashed node's words reached the engine through Describe.
	if !strings.Contains(messages(events), "exited with status 1") {
		t.Errorf("events of the v3-crash apply do not say the node exited:\n%s", messages(events))
	}

	if _, err := ex.Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if pids := e.pids(); len(pids) != 0 {
		t.Errorf("processes after Destroy: %v", pids)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "web")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pool directory after Destroy: %v", err)
	}
}

func messages(evs []rollout.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		b.WriteString(ev.String())
		b.WriteByte('\n')
	}
	return b.String()
}
