package main

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/internal/sim"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

func secs(v ...float64) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, s := range v {
		out[i] = time.Duration(s * float64(time.Second))
	}
	return out
}

// The cases are the worked examples in the functions' comments, plus edges.
func TestLowerBoundAndLockstep(t *testing.T) {
	newT, oldT := secs(60, 90, 120), secs(30, 30, 40)
	cases := []struct {
		name            string
		newT, oldT      []time.Duration
		c               int
		bound, lockstep time.Duration
		greedy          time.Duration
	}{
		{"sequential", newT, oldT, 1, 370 * time.Second, 370 * time.Second, 370 * time.Second},
		{"two at once", newT, oldT, 2, 185 * time.Second, 280 * time.Second, 250 * time.Second},
		{"all at once: the slowest node bounds it", newT, oldT, 3, 150 * time.Second, 160 * time.Second, 160 * time.Second},
		{"more slots than nodes", newT, oldT, 10, 150 * time.Second, 160 * time.Second, 160 * time.Second},
		// Lockstep waits for wave 1's slow node; greedy refills the fast slot:
		// pairs 10, 100, 10, 10 with c = 2: lockstep 100 + 10; greedy slot A
		// 10+10+10 = 30, slot B 100, which the slowest node bounds anyway.
		{"greedy refills fast slots", secs(5, 95, 5, 5), secs(5, 5, 5, 5), 2, 100 * time.Second, 110 * time.Second, 100 * time.Second},
		{"zero concurrency is treated as one", secs(10), secs(5), 0, 15 * time.Second, 15 * time.Second, 15 * time.Second},
		{"scale-up: no old nodes", secs(10, 20), nil, 1, 30 * time.Second, 30 * time.Second, 30 * time.Second},
		{"nothing to do", nil, nil, 2, 0, 0, 0},
	}
	for _, c := range cases {
		if got := LowerBound(c.newT, c.oldT, c.c); got != c.bound {
			t.Errorf("%s: LowerBound = %s, want %s", c.name, got, c.bound)
		}
		if got := Lockstep(c.newT, c.oldT, c.c); got != c.lockstep {
			t.Errorf("%s: Lockstep = %s, want %s", c.name, got, c.lockstep)
		}
		if got := Greedy(c.newT, c.oldT, c.c); got != c.greedy {
			t.Errorf("%s: Greedy = %s, want %s", c.name, got, c.greedy)
		}
	}
}

// TestReplicaMatchesSim checks that simNodeTiming re-draws exactly what the
// sim drew: each node is provisioning until its boot instant, refuses probes
// until its ready instant, and is gone exactly its terminate time after
// removal.
func TestReplicaMatchesSim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := sim.DefaultOptions()
		o.Seed = 7
		c := sim.New(o)
		ctx := t.Context()
		if _, err := c.Populate(rollout.Spec{Image: "v1", Size: 1}); err != nil {
			t.Fatal(err)
		}
		probe := c.Prober()
		for k := range 4 {
			// One node at a time, so each one's instants are still ahead.
			if err := c.Resize(ctx, 2); err != nil {
				t.Fatal(err)
			}
			pool, err := c.Describe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n := pool.Nodes[len(pool.Nodes)-1]
			if want := fmt.Sprintf("n-%04d", k+2); n.ID != want {
				t.Fatalf("newest node %s, want %s", n.ID, want)
			}
			seq, err := nodeSeq(n.ID)
			if err != nil {
				t.Fatal(err)
			}
			tm := simNodeTiming(o, seq)
			if tm.Boot <= 0 || tm.Ready <= 0 || tm.Terminate <= 0 {
				t.Fatalf("node %s: implausible timings %+v", n.ID, tm)
			}
			at := func(d time.Duration) { time.Sleep(time.Until(n.CreatedAt.Add(d))) }
			state := func() rollout.NodeState {
				p, err := c.Describe(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range p.Nodes {
					if m.ID == n.ID {
						return m.State
					}
				}
				return "gone"
			}
			// Describe takes API latency, so read states by probing instead
			// where the instant matters, and check Describe in between.
			at(tm.Boot - time.Millisecond)
			if err := probe.Probe(ctx, n); err == nil {
				t.Errorf("node %s serves before its drawn boot", n.ID)
			}
			at(tm.Boot + tm.Ready - time.Nanosecond)
			if err := probe.Probe(ctx, n); err == nil {
				t.Errorf("node %s serves 1ns before its drawn boot+ready %s", n.ID, tm.Boot+tm.Ready)
			}
			at(tm.Boot + tm.Ready)
			if err := probe.Probe(ctx, n); err != nil {
				t.Errorf("node %s does not serve at its drawn boot+ready %s: %v", n.ID, tm.Boot+tm.Ready, err)
			}
			if s := state(); s != rollout.NodeRunning {
				t.Errorf("node %s is %s after boot+ready", n.ID, s)
			}
			if err := c.RemoveNodes(ctx, []string{n.ID}); err != nil {
				t.Fatal(err)
			}
			removed := time.Now() // the sim stamps removal when the call answers
			time.Sleep(tm.Terminate - time.Nanosecond)
			if err := probe.Probe(ctx, n); err == nil || !strings.Contains(err.Error(), "refused") {
				t.Errorf("node %s: probe 1ns before its drawn terminate: %v, want connection refused", n.ID, err)
			}
			time.Sleep(time.Until(removed.Add(tm.Terminate)))
			if err := probe.Probe(ctx, n); err == nil || !strings.Contains(err.Error(), "no route") {
				t.Errorf("node %s: probe at its drawn terminate %s: %v, want gone", n.ID, tm.Terminate, err)
			}
		}
	})
}

func TestFmtDuration(t *testing.T) {
	for sec, want := range map[float64]string{0: "0s", 59.4: "59s", 59.6: "1m00s", 1859.6: "31m00s", 3725: "62m05s"} {
		if got := fmtDuration(sec); got != want {
			t.Errorf("fmtDuration(%v) = %q, want %q", sec, got, want)
		}
	}
}
