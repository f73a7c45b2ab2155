package main

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/internal/sim"
)

// simStream mirrors internal/sim's per-draw random stream (seed, label and
// sequence number in, one PCG generator out). The sim does not export each
// node's drawn timings, so the benchmark re-draws them with the same streams
// and the same Dist values; TestReplicaMatchesSim checks the copy against
// the sim's observable behaviour (state changes and probes at exactly the
// drawn instants), so a change in the sim's draw order fails a test instead
// of silently skewing the lower bound.
func simStream(seed int64, label string, n uint64) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(label))
	return rand.New(rand.NewPCG(uint64(seed), h.Sum64()^(n*0x9e3779b97f4a7c15)))
}

// nodeTiming is what the sim drew for one node when it launched it.
type nodeTiming struct {
	Boot      time.Duration // provisioning -> running
	Ready     time.Duration // running -> answers probes
	Terminate time.Duration // removed -> gone
}

// simNodeTiming re-draws node seq's timings in the order the sim's launch
// draws them: boot, ready, crash-after, terminate.
func simNodeTiming(o sim.Options, seq uint64) nodeTiming {
	r := simStream(o.Seed, "node", seq)
	boot, ready := o.Boot.Draw(r), o.Ready.Draw(r)
	_ = o.CrashAfter.Draw(r)
	return nodeTiming{Boot: boot, Ready: ready, Terminate: o.Terminate.Draw(r)}
}

// nodeSeq parses the sim's node ID "n-0042" into its launch number.
func nodeSeq(id string) (uint64, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(id, "n-"), 10, 64)
	if err != nil || !strings.HasPrefix(id, "n-") {
		return 0, fmt.Errorf("node ID %q is not a sim node ID n-<number>", id)
	}
	return n, nil
}

// LowerBound is the shortest any engine could roll the pool with the same
// strategy and the same per-node timings, with zero overhead of its own.
// newT[k] is the k-th new node's time from launch to counting as capacity;
// oldT[j] the j-th old node's time from drain start to gone. Every
// replacement holds one of the c = surge + unavailable slots for one new
// node's time plus one old node's time, so the total slot-time divided by c
// bounds the duration from below; and no rollout ends before its slowest
// new node is ready and some old node has then drained and gone:
//
//	max( max(newT) + min(oldT),  (sum(newT) + sum(oldT)) / c )
//
// Worked: newT = 60s, 90s, 120s; oldT = 30s, 30s, 40s; c = 1 -> sum 370s,
// max term 150s: 370s. c = 3 -> 123.3s against 150s: 150s.
func LowerBound(newT, oldT []time.Duration, c int) time.Duration {
	if c < 1 {
		c = 1
	}
	var sum time.Duration
	for _, d := range newT {
		sum += d
	}
	for _, d := range oldT {
		sum += d
	}
	single := time.Duration(0)
	if len(newT) > 0 {
		single = slices.Max(newT)
		if len(oldT) > 0 {
			single += slices.Min(oldT)
		}
	}
	return max(single, sum/time.Duration(c))
}

// Lockstep is the duration of the lockstep-wave schedule over the same
// timings: replacements k = 0, 1, ... pair newT[k] with oldT[k] (both in
// the order the engine uses them: new nodes in launch order, old nodes
// oldest first); waves take c consecutive replacements; each wave lasts as
// long as its slowest replacement, and the next wave starts when it ends.
// Unpaired new nodes (a scale-up) count their own time alone.
//
// Worked: pairs 60+30, 90+30, 120+40, c = 2 -> wave 1 max(90s, 120s) = 120s,
// wave 2 160s: 280s.
func Lockstep(newT, oldT []time.Duration, c int) time.Duration {
	if c < 1 {
		c = 1
	}
	n := max(len(newT), len(oldT))
	var total, wave time.Duration
	for k := range n {
		var d time.Duration
		if k < len(newT) {
			d += newT[k]
		}
		if k < len(oldT) {
			d += oldT[k]
		}
		wave = max(wave, d)
		if (k+1)%c == 0 || k == n-1 {
			total += wave
			wave = 0
		}
	}
	return total
}

// Greedy is the continuous schedule with zero engine overhead: c slots;
// whenever a slot frees, the next replacement starts in it at once (new
// node k launches, and when it counts, old node k drains and goes). It is
// what a perfect surge-and-drain engine achieves with these timings; the
// gap between it and LowerBound is the schedule's own integrality (the
// last replacements finish at different times, some slot runs one more
// replacement than others), not engine overhead.
//
// Worked: pairs 90s, 120s, 160s (see Lockstep), c = 2: slot A runs 90s then
// 160s (ends 250s), slot B 120s: 250s.
func Greedy(newT, oldT []time.Duration, c int) time.Duration {
	if c < 1 {
		c = 1
	}
	n := max(len(newT), len(oldT))
	slots := make([]time.Duration, min(c, max(n, 1)))
	var end time.Duration
	for k := range n {
		i := slices.Index(slots, slices.Min(slots))
		d := slots[i]
		if k < len(newT) {
			d += newT[k]
		}
		if k < len(oldT) {
			d += oldT[k]
		}
		slots[i] = d
		end = max(end, d)
	}
	return end
}
