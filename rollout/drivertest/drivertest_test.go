package drivertest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/noderoll/terraform-provider-noderoll/internal/sim"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
	"github.com/noderoll/terraform-provider-noderoll/rollout/drivertest"
)

// mutant is the simulated cloud with one contract violation planted, to show
// the suite notices it.
type mutant struct {
	*sim.Cloud
	kind     string
	prepared int
	perNode  int // describe-per-node: the extra calls a per-node fetch would make
}

func (m *mutant) Describe(ctx context.Context) (rollout.Pool, error) {
	p, err := m.Cloud.Describe(ctx)
	if m.kind == "describe-per-node" {
		m.perNode += len(p.Nodes)
	}
	return p, err
}

func (m *mutant) Resize(ctx context.Context, size int) error {
	if m.kind == "resize-adds" {
		p, err := m.Cloud.Describe(ctx)
		if err != nil {
			return err
		}
		size += p.Size
	}
	return m.Cloud.Resize(ctx, size)
}

func (m *mutant) RemoveNodes(ctx context.Context, ids []string) error {
	p, err := m.Cloud.Describe(ctx)
	if err != nil {
		return err
	}
	switch m.kind {
	case "remove-replaces":
		if err := m.Cloud.RemoveNodes(ctx, ids); err != nil {
			return err
		}
		return m.Cloud.Resize(ctx, p.Size)
	case "remove-wrong-node":
		for _, n := range p.Nodes {
			if !contains(ids, n.ID) && n.State != rollout.NodeTerminating {
				return m.Cloud.RemoveNodes(ctx, []string{n.ID})
			}
		}
	}
	return m.Cloud.RemoveNodes(ctx, ids)
}

func (m *mutant) PrepareTemplate(ctx context.Context, s rollout.Spec) (rollout.Template, error) {
	if m.kind == "prepare-not-idempotent" {
		m.prepared++
		t, err := m.Cloud.PrepareTemplate(ctx, rollout.Spec{Image: fmt.Sprintf("%s#%d", s.Image, m.prepared), MachineType: s.MachineType})
		return rollout.Template{ID: t.ID, Image: s.Image, MachineType: s.MachineType}, err
	}
	return m.Cloud.PrepareTemplate(ctx, s)
}

func (m *mutant) UseTemplate(ctx context.Context, t rollout.Template, origin string) error {
	if m.kind == "origin-ignored" {
		origin = ""
	}
	return m.Cloud.UseTemplate(ctx, t, origin)
}

func (m *mutant) ErrorCode(err error) rollout.ErrorCode {
	if m.kind == "errorcode-guesses" {
		return rollout.Unavailable
	}
	return m.Cloud.ErrorCode(err)
}

func contains(ids []string, id string) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}

// TestMutant runs the suite against the mutant named by $DRIVERTEST_MUTANT;
// TestMutantsCaught runs it in a child process per mutant.
func TestMutant(t *testing.T) {
	kind := os.Getenv("DRIVERTEST_MUTANT")
	if kind == "" {
		t.Skip("run by TestMutantsCaught")
	}
	var m *mutant
	brokenImage := "broken"
	if kind == "broken-heals" {
		brokenImage = "fine"
	}
	broken := rollout.Spec{Image: brokenImage, MachineType: "small"}
	drivertest.Run(t, drivertest.Harness{
		New: func(t *testing.T) (rollout.Driver, rollout.Prober) {
			o := sim.DefaultOptions()
			o.Broken = sim.BrokenImages(map[string]sim.Mode{"broken": sim.Unhealthy})
			m = &mutant{Cloud: sim.New(o), kind: kind}
			return m, m.Prober()
		},
		Spec:     func(i int) rollout.Spec { return rollout.Spec{Image: fmt.Sprintf("img-%d", i), MachineType: "small"} },
		Broken:   &broken,
		Synctest: true,
		APICalls: func() int { return m.Calls()[sim.CallDescribe] + m.perNode },
	})
}

// TestMutantsCaught shows each planted violation fails the case that
// guards it, and that the unmutated cloud passes.
func TestMutantsCaught(t *testing.T) {
	if os.Getenv("DRIVERTEST_MUTANT") != "" {
		t.Skip("inside a mutant run")
	}
	for _, c := range []struct {
		kind   string
		failed string // the case that must fail; "" for none
	}{
		{"none", ""},
		{"resize-adds", "ResizeUp"},
		{"remove-replaces", "RemoveNodes"},
		{"remove-wrong-node", "RemoveNodes"},
		{"prepare-not-idempotent", "PrepareTemplate"},
		{"origin-ignored", "UseTemplate"},
		{"errorcode-guesses", "ErrorCode"},
		{"broken-heals", "BrokenSpec"},
		{"describe-per-node", "ResizeUp"},
	} {
		t.Run(c.kind, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestMutant$", "-test.v")
			cmd.Env = append(os.Environ(), "DRIVERTEST_MUTANT="+c.kind)
			out, err := cmd.CombinedOutput()
			failedCase := strings.Contains(string(out), "--- FAIL: TestMutant/"+c.failed+" ")
			switch {
			case c.failed == "" && err != nil:
				t.Fatalf("the unmutated cloud failed the suite: %v\n%s", err, out)
			case c.failed != "" && (err == nil || !failedCase):
				t.Fatalf("mutant %s: want case %s to fail (exit %v):\n%s", c.kind, c.failed, err, out)
			}
		})
	}
}
