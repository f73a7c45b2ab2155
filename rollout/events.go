package rollout

import (
	"fmt"
	"strings"
	"time"
)

// EventType names a step of a rollout.
type EventType string

const (
	EventStarted         EventType = "started"          // a run began; Message says from -> to
	EventTemplateChanged EventType = "template_changed" // the group now points at Template
	EventWaveStarted     EventType = "wave_started"
	EventWaveFinished    EventType = "wave_finished"
	EventNodeAdded       EventType = "node_added"   // a new node appeared
	EventNodeHealthy     EventType = "node_healthy" // passed its probes and min_ready
	EventNodeFailed      EventType = "node_failed"  // died, or missed its deadline
	EventNodeDraining    EventType = "node_draining"
	EventNodeDrained     EventType = "node_drained"
	EventNodeRemoved     EventType = "node_removed"
	EventPaused          EventType = "paused" // pause between waves or canary soak
	EventRollingBack     EventType = "rolling_back"
	EventRolledBack      EventType = "rolled_back"
	EventHalted          EventType = "halted"
	EventRetry           EventType = "retry" // a cloud call failed and will be retried
	EventFinished        EventType = "finished"
)

// Event is one step, for logs, webhooks and the final report.
type Event struct {
	Time     time.Time
	Type     EventType
	Wave     int    // 1-based wave number, 0 when not tied to a wave
	Node     string // node ID, when the event is about one node
	Template string // template ID, when relevant
	Message  string // the reason in words
}

func (e Event) String() string {
	var b strings.Builder
	b.WriteString(string(e.Type))
	if e.Wave > 0 {
		fmt.Fprintf(&b, " wave=%d", e.Wave)
	}
	if e.Node != "" {
		fmt.Fprintf(&b, " node=%s", e.Node)
	}
	if e.Template != "" {
		fmt.Fprintf(&b, " template=%s", e.Template)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Outcome is how a run ended.
type Outcome string

const (
	OutcomeConverged   Outcome = "converged"   // every node on the target template, healthy
	OutcomeRolledBack  Outcome = "rolled_back" // failed, and the pool is back on the origin template
	OutcomeHalted      Outcome = "halted"      // failed, and left as it was (on_failure = halt)
	OutcomeFailed      Outcome = "failed"      // failed, and rollback failed too
	OutcomeInterrupted Outcome = "interrupted" // the context ended; a rerun continues
)

// Failure is one node that failed, and why.
type Failure struct {
	Node   string
	Reason string // "probe: GET http://127.0.0.2:8080/healthz: status 500", "exited with status 1", ...
}

// Report summarises a run.
type Report struct {
	Outcome  Outcome
	From     string // template the pool started on
	To       string // template the run aimed at
	Started  time.Time
	Finished time.Time
	Waves    int
	Replaced int // old nodes removed and replaced by target nodes
	Added    int
	Removed  int
	Failures []Failure
	// LowestHealthy is the fewest healthy nodes observed during the run.
	LowestHealthy int
	// NodeReady and Drain are measured per-node durations (appeared -> healthy,
	// drain start -> removed), the inputs a later preview estimates from.
	NodeReady []time.Duration
	Drain     []time.Duration
	Message   string
}

// Duration is how long the run took.
func (r Report) Duration() time.Duration { return r.Finished.Sub(r.Started) }
