package sim

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"
)

// Dist is a distribution of durations: how long a boot, a health check
// warm-up, an API call or a drain takes. The zero Dist is always 0.
type Dist struct {
	kind     distKind
	min, max time.Duration
	median   time.Duration
	sigma    float64
}

type distKind uint8

const (
	distConst distKind = iota
	distUniform
	distLogNormal
)

// Const is always d.
func Const(d time.Duration) Dist { return Dist{kind: distConst, min: d, max: d} }

// Uniform draws evenly from [min, max].
func Uniform(min, max time.Duration) Dist {
	if max < min {
		min, max = max, min
	}
	return Dist{kind: distUniform, min: min, max: max}
}

// LogNormal draws median*e^(sigma*N(0,1)) clipped to [min, max]: most draws
// near the median with a long right tail, the usual shape of boot times and
// API latencies. sigma 0.3 to 0.6 gives a realistic spread.
func LogNormal(median time.Duration, sigma float64, min, max time.Duration) Dist {
	if max < min {
		min, max = max, min
	}
	return Dist{kind: distLogNormal, median: median, sigma: sigma, min: min, max: max}
}

// Draw returns one duration drawn with r.
func (d Dist) Draw(r *rand.Rand) time.Duration {
	switch d.kind {
	case distUniform:
		if d.max == d.min {
			return d.min
		}
		return d.min + time.Duration(r.Int64N(int64(d.max-d.min)+1))
	case distLogNormal:
		v := time.Duration(float64(d.median) * math.Exp(d.sigma*r.NormFloat64()))
		return min(max(v, d.min), d.max)
	}
	return d.min
}

// Max is the longest duration the distribution can draw.
func (d Dist) Max() time.Duration { return d.max }

func (d Dist) String() string {
	switch d.kind {
	case distUniform:
		return fmt.Sprintf("uniform(%s, %s)", d.min, d.max)
	case distLogNormal:
		return fmt.Sprintf("lognormal(median %s, sigma %.2f, [%s, %s])", d.median, d.sigma, d.min, d.max)
	}
	return d.min.String()
}

// stream returns a generator that depends only on the cloud's seed and a
// label, so a draw does not depend on the order in which concurrent callers
// reached the cloud: node n's boot time is the same whichever goroutine
// resized the group, and the k-th describe call meets the same fault.
func stream(seed int64, label string, n uint64) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(label))
	return rand.New(rand.NewPCG(uint64(seed), h.Sum64()^(n*0x9e3779b97f4a7c15)))
}
