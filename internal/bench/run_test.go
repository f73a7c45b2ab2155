package main

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// TestRunScenarioSmall runs small scenarios end to end (engine and
// baseline) and checks what must hold whatever the timings: both converge
// within the budgets, and nothing beats the lower bound.
func TestRunScenarioSmall(t *testing.T) {
	for _, sc := range []Scenario{
		{Name: "surge", Nodes: 10, Surge: rollout.Percent(25), Unavailable: rollout.Count(0), Naive: true},
		{Name: "unavailable", Nodes: 12, Surge: rollout.Count(0), Unavailable: rollout.Count(2), Naive: true},
		{Name: "faults", Nodes: 10, Surge: rollout.Count(2), Unavailable: rollout.Count(0), Faults: "errors+throttle", Naive: true},
	} {
		t.Run(sc.Name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				res, err := RunScenario(t.Context(), sc, 3)
				if err != nil {
					t.Fatal(err)
				}
				for name, r := range map[string]Run{"engine": res.Engine, "naive": *res.Naive} {
					if r.Outcome != string(rollout.OutcomeConverged) || r.Replaced != sc.Nodes {
						t.Errorf("%s: outcome %s, replaced %d of %d: %s", name, r.Outcome, r.Replaced, sc.Nodes, r.Error)
					}
					if r.MinCapacity < res.MinAllowed || r.MaxNodes > res.MaxAllowed {
						t.Errorf("%s: capacity down to %d (min %d), up to %d nodes (max %d)", name, r.MinCapacity, res.MinAllowed, r.MaxNodes, res.MaxAllowed)
					}
					if r.LowerBound <= 0 || r.Seconds < r.LowerBound || r.Greedy < r.LowerBound || r.Lockstep < r.LowerBound {
						t.Errorf("%s: %.1fs, greedy %.1fs, lockstep %.1fs against a lower bound of %.1fs", name, r.Seconds, r.Greedy, r.Lockstep, r.LowerBound)
					}
					if r.Describe == 0 || r.Mutate == 0 || len(r.Points) < 3 || len(r.Waves) == 0 {
						t.Errorf("%s: %d describes, %d mutations, %d points, %d waves recorded", name, r.Describe, r.Mutate, len(r.Points), len(r.Waves))
					}
				}
				if res.Engine.LowerBound != res.Naive.LowerBound {
					t.Errorf("engine and baseline ran on different node timings: bounds %.1fs and %.1fs", res.Engine.LowerBound, res.Naive.LowerBound)
				}
				if res.Engine.PeakHeap < res.Engine.BaseHeap || res.Engine.PeakHeap == 0 {
					t.Errorf("heap: peak %d below base %d", res.Engine.PeakHeap, res.Engine.BaseHeap)
				}
				line := Line(res)
				for _, want := range []string{"bench scenario=" + sc.Name + " nodes=", " ratio_lower_bound=", " ratio_lockstep=", " api_calls_per_node=", " min_healthy_ok=true", " peak_mib=", " ratio_naive="} {
					if !strings.Contains(line, want) {
						t.Errorf("line %q lacks %q", line, want)
					}
				}
				svg := plotResult(res)
				d := xml.NewDecoder(strings.NewReader(svg))
				paths := 0
				for {
					tok, err := d.Token()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatalf("plot is not well-formed XML: %v", err)
					}
					if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "path" {
						paths++
					}
				}
				if paths != 4 {
					t.Errorf("plot has %d series paths, want 4 (two per panel)", paths)
				}
			})
		})
	}
}
