package rollout

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// IntOrPercent is a node count ("2") or a share of the pool's size ("25%").
type IntOrPercent struct {
	Value   int
	Percent bool
}

// Count returns n nodes.
func Count(n int) IntOrPercent { return IntOrPercent{Value: n} }

// Percent returns p percent of the pool.
func Percent(p int) IntOrPercent { return IntOrPercent{Value: p, Percent: true} }

func (v IntOrPercent) String() string {
	if v.Percent {
		return strconv.Itoa(v.Value) + "%"
	}
	return strconv.Itoa(v.Value)
}

// IsZero reports an explicit or implied zero.
func (v IntOrPercent) IsZero() bool { return v.Value == 0 }

// ParseIntOrPercent parses "3" or "25%". Percentages run 0..100; counts are
// non-negative. The error names the value and what would be valid.
func ParseIntOrPercent(s string) (IntOrPercent, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return IntOrPercent{}, fmt.Errorf("%q is empty: want a node count such as \"1\" or a percentage such as \"25%%\"", s)
	}
	pct := strings.HasSuffix(t, "%")
	num := strings.TrimSuffix(t, "%")
	n, err := strconv.Atoi(num)
	if err != nil || strings.ContainsAny(num, "+ ") {
		return IntOrPercent{}, fmt.Errorf("%q is not a whole number or percentage: want a node count such as \"1\" or a percentage such as \"25%%\"", s)
	}
	if n < 0 {
		return IntOrPercent{}, fmt.Errorf("%q is negative: want 0 or more", s)
	}
	if pct && n > 100 {
		return IntOrPercent{}, fmt.Errorf("%q is over 100%%: want a percentage from 0%% to 100%%", s)
	}
	return IntOrPercent{Value: n, Percent: pct}, nil
}

// FailurePolicy says what a failed rollout does.
type FailurePolicy string

const (
	// Rollback points the group back at the previous template, removes the
	// new nodes and restores the pool with the same surge-and-drain care.
	Rollback FailurePolicy = "rollback"
	// Halt stops and leaves the pool as it is.
	Halt FailurePolicy = "halt"
)

// Strategy is how a pool may move.
type Strategy struct {
	MaxSurge       IntOrPercent // extra nodes allowed above Size during a rollout
	MaxUnavailable IntOrPercent // healthy nodes allowed below Size during a rollout

	// HealthyThreshold consecutive passing probes make a node healthy.
	HealthyThreshold int
	// ProbeInterval is the time between probes of a node, and the engine's tick.
	ProbeInterval time.Duration
	// MinReady is how long a new node must stay healthy before it counts as
	// capacity and an old node may go.
	MinReady time.Duration
	// NodeDeadline: a new node not healthy this long after it appeared fails its wave.
	NodeDeadline time.Duration
	// ProgressDeadline: the rollout fails if no node is replaced for this long. 0 = none.
	ProgressDeadline time.Duration
	// PauseBetweenWaves holds new replacements after each wave completes.
	PauseBetweenWaves time.Duration
	// CanaryCount nodes are replaced first and must stay healthy for CanarySoak
	// before the rest of the pool moves. 0 = no canary.
	CanaryCount int
	CanarySoak  time.Duration
	// DrainTimeout bounds one node's drain. 0 = no drain step bound (drainer's own).
	DrainTimeout time.Duration
	OnFailure    FailurePolicy
}

// DefaultStrategy is the strategy a pool gets when it says nothing: one
// extra node at a time, never below size, rollback on failure.
func DefaultStrategy() Strategy {
	return Strategy{
		MaxSurge:         Count(1),
		MaxUnavailable:   Count(0),
		HealthyThreshold: 2,
		ProbeInterval:    5 * time.Second,
		MinReady:         10 * time.Second,
		NodeDeadline:     10 * time.Minute,
		DrainTimeout:     5 * time.Minute,
		OnFailure:        Rollback,
	}
}

// Budget is a strategy's surge and unavailable counts for one pool size.
type Budget struct {
	Surge       int
	Unavailable int
}

// Concurrency is how many replacements may be in flight at once.
func (b Budget) Concurrency() int { return b.Surge + b.Unavailable }

// Resolve turns the strategy's percentages into node counts for a pool of
// size nodes, with the fenceposts Kubernetes and Cluster API use:
//
//   - surge rounds up: 25% of 10 = 2.5 -> 3 (a surge of 1% still moves);
//   - unavailable rounds down: 25% of 10 = 2.5 -> 2 (never lose more than asked);
//   - if both come to zero, unavailable becomes 1 so the rollout can move:
//     surge 0%, unavailable 10% of 5 = 0.5 -> 0 -> unavailable 1;
//   - unavailable never exceeds size: 3 of a pool of 2 -> 2;
//   - explicit counts 0 and 0 are rejected by Validate, not patched here.
//
// Worked examples for size 4: ("25%","0") -> surge 1, unavailable 0;
// ("50%","25%") -> 2, 1; ("0%","0%") -> 0, 1; ("1","0") -> 1, 0.
func (s Strategy) Resolve(size int) Budget {
	surge := s.MaxSurge.Value
	if s.MaxSurge.Percent {
		surge = int(math.Ceil(float64(size) * float64(s.MaxSurge.Value) / 100))
	}
	unavail := s.MaxUnavailable.Value
	if s.MaxUnavailable.Percent {
		unavail = size * s.MaxUnavailable.Value / 100 // integer division rounds down
	}
	if surge == 0 && unavail == 0 {
		unavail = 1
	}
	if unavail > size && size > 0 {
		unavail = size
	}
	return Budget{Surge: surge, Unavailable: unavail}
}

// FieldError is a validation failure naming the field, the bad value and what
// would be valid. Terraform glue maps Field to an attribute path.
type FieldError struct {
	Field string
	Value string
	Want  string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s = %s is invalid: %s", e.Field, e.Value, e.Want)
}

// Validate checks a spec. It returns every problem, not just the first.
func (s Spec) Validate() []error {
	var errs []error
	if s.Size < 0 {
		errs = append(errs, &FieldError{"size", strconv.Itoa(s.Size), "want 0 or more nodes"})
	}
	if strings.TrimSpace(s.Image) == "" {
		errs = append(errs, &FieldError{"image", strconv.Quote(s.Image), "want a non-empty image identifier"})
	}
	return errs
}

// Validate checks a strategy. It returns every problem, not just the first.
func (s Strategy) Validate() []error {
	var errs []error
	bad := func(field, value, want string) { errs = append(errs, &FieldError{field, value, want}) }
	if s.MaxSurge.Value < 0 || (s.MaxSurge.Percent && s.MaxSurge.Value > 100) {
		bad("max_surge", strconv.Quote(s.MaxSurge.String()), "want a count of 0 or more, or a percentage from 0% to 100%")
	}
	if s.MaxUnavailable.Value < 0 || (s.MaxUnavailable.Percent && s.MaxUnavailable.Value > 100) {
		bad("max_unavailable", strconv.Quote(s.MaxUnavailable.String()), "want a count of 0 or more, or a percentage from 0% to 100%")
	}
	if !s.MaxSurge.Percent && !s.MaxUnavailable.Percent && s.MaxSurge.Value == 0 && s.MaxUnavailable.Value == 0 {
		bad("max_surge", `"0" with max_unavailable = "0"`, "the rollout could never move: allow at least one extra node (max_surge) or one missing node (max_unavailable)")
	}
	if s.HealthyThreshold < 1 {
		bad("healthy_threshold", strconv.Itoa(s.HealthyThreshold), "want 1 or more consecutive passing probes")
	}
	if s.ProbeInterval <= 0 {
		bad("interval", s.ProbeInterval.String(), "want a positive duration such as \"5s\"")
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"min_ready", s.MinReady}, {"progress_deadline", s.ProgressDeadline}, {"pause_between_waves", s.PauseBetweenWaves}, {"canary_soak", s.CanarySoak}, {"drain_timeout", s.DrainTimeout}} {
		if d.v < 0 {
			bad(d.field, d.v.String(), "want 0 or a positive duration")
		}
	}
	if s.NodeDeadline <= 0 {
		bad("node_deadline", s.NodeDeadline.String(), "want a positive duration such as \"10m\"")
	} else if s.NodeDeadline <= s.MinReady {
		bad("node_deadline", s.NodeDeadline.String(), fmt.Sprintf("want more than min_ready (%s), or no node could ever pass", s.MinReady))
	}
	if s.CanaryCount < 0 {
		bad("canary_count", strconv.Itoa(s.CanaryCount), "want 0 (no canary) or more nodes")
	}
	switch s.OnFailure {
	case Rollback, Halt:
	default:
		bad("on_failure", strconv.Quote(string(s.OnFailure)), `want "rollback" or "halt"`)
	}
	return errs
}
