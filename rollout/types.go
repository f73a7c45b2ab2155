// Package rollout is noderoll's cloud-agnostic engine: it moves a pool of
// nodes from one template to another with surge-and-drain replacement,
// health gating and rollback. It imports no Terraform and no cloud SDK;
// backends implement Driver (providers/local, providers/asg, internal/sim).
//
// An Executor reconciles level-triggered: each tick it observes the pool
// with one Driver.Describe, probes the nodes, asks the pure planner Decide
// for the next intents (each with a reason in words), and performs them.
// It keeps no journal: which template each node runs, and which template
// the group points at, is read back from the cloud, and the template a
// rollout started from is recorded on the group (Pool.Origin). A run that
// follows an interruption at any point continues from what it observes.
//
//	ex, err := rollout.New(rollout.Options{
//		Driver:   driver,
//		Strategy: rollout.DefaultStrategy(),
//		Prober:   prober, // rollout/health
//		Drainer:  drainer, // rollout/drain, or nil
//		OnEvent:  func(e rollout.Event) { log.Print(e) },
//	})
//	report, err := ex.Apply(ctx, rollout.Spec{Size: 6, Image: "ami-0abc", MachineType: "m7i.large"})
//
// Preview renders what Apply would do, for a change review, by running the
// same planner over a virtual pool.
package rollout

import (
	"context"
	"time"
)

// Spec is what the user asked for.
type Spec struct {
	Size        int
	Image       string
	MachineType string
}

// Template is what a new node is made from: an EC2 launch template version,
// a GCE instance template, a scale set model, a local command line. ID is
// the backend's immutable identifier; two specs that differ in image or
// machine type never share an ID.
type Template struct {
	ID          string
	Image       string
	MachineType string
}

// NodeState is the cloud's view of a node's lifecycle.
type NodeState string

const (
	// NodeProvisioning: requested or booting; occupies surge budget, serves nothing yet.
	NodeProvisioning NodeState = "provisioning"
	// NodeRunning: the cloud reports it running; probes decide whether it serves.
	NodeRunning NodeState = "running"
	// NodeTerminating: being removed; still occupies surge budget until gone.
	NodeTerminating NodeState = "terminating"
	// NodeFailed: the cloud reports it dead (exited, failed to launch, impaired).
	NodeFailed NodeState = "failed"
)

// CloudHealth is the cloud's own health signal for a node, where it has one
// (ASG health status, ELB target health, MIG health check).
type CloudHealth string

const (
	CloudHealthUnknown   CloudHealth = ""
	CloudHealthHealthy   CloudHealth = "healthy"
	CloudHealthUnhealthy CloudHealth = "unhealthy"
)

// Node is one member of a pool as the backend observed it.
type Node struct {
	ID       string
	Template string // Template.ID the node was created from
	// Address is the host (IP address, no port) probes are sent to. Probes go
	// only to addresses a backend reports here.
	Address     string
	Zone        string
	State       NodeState
	CloudHealth CloudHealth
	CreatedAt   time.Time
	// Detail carries the cloud's words for a failed or odd node ("exited with
	// status 1", "Pending:Wait", "scale-in protected").
	Detail string
}

// Pool is one observation of a cloud group: one Describe call.
type Pool struct {
	Name string
	// Template is the template the group points at: nodes added from now on run it.
	Template Template
	// Origin is the ID of the template the rollout in progress started from,
	// persisted beside the group (a tag) so a run that resumes after an
	// interruption knows where to roll back to. Empty when no rollout is in
	// progress.
	Origin string
	// Size is the group's desired node count.
	Size  int
	Nodes []Node
}

// Driver is the contract between the engine and a cloud backend. Every
// method is idempotent under retry: the engine may repeat a call whose
// response was lost.
type Driver interface {
	// Describe observes the pool in one call (or one paginated call) per
	// tick, never one call per node.
	Describe(ctx context.Context) (Pool, error)
	// PrepareTemplate returns the template for s, creating it if needed.
	// The same image and machine type give the same template.
	PrepareTemplate(ctx context.Context, s Spec) (Template, error)
	// UseTemplate points the group at t: nodes added from now on run t.
	// origin is recorded as Pool.Origin ("" clears it).
	UseTemplate(ctx context.Context, t Template, origin string) error
	// Resize sets the group's desired node count. New nodes run the group's
	// template. An absolute size (not "add n") keeps a retried call safe.
	Resize(ctx context.Context, size int) error
	// RemoveNodes deletes exactly these nodes and shrinks the desired count
	// by the number removed. Nodes already gone are not an error.
	RemoveNodes(ctx context.Context, ids []string) error
	// ErrorCode classifies an error returned by this driver's methods.
	ErrorCode(err error) ErrorCode
}

// Prober checks whether a node serves. Implementations live in rollout/health;
// the simulated cloud has its own.
type Prober interface {
	Probe(ctx context.Context, n Node) error
}

// ProberFunc adapts a function to Prober.
type ProberFunc func(ctx context.Context, n Node) error

func (f ProberFunc) Probe(ctx context.Context, n Node) error { return f(ctx, n) }

// Drainer evacuates a node's work before it is removed. Implementations live
// in rollout/drain. Drain must return when ctx is done; the engine bounds it
// with the drain timeout.
type Drainer interface {
	Drain(ctx context.Context, n Node) error
}

// DrainerFunc adapts a function to Drainer.
type DrainerFunc func(ctx context.Context, n Node) error

func (f DrainerFunc) Drain(ctx context.Context, n Node) error { return f(ctx, n) }

// Lifecycle is implemented by drivers that can create and delete their
// cloud group. The engine creates the group (pointing at the first template,
// with size 0) and then grows it with health gating; it deletes the group
// only after every node was drained and removed.
type Lifecycle interface {
	// Create makes the group pointing at t with a desired size of 0. Creating
	// a group that exists with the same template is not an error.
	Create(ctx context.Context, t Template) error
	// Delete removes the group and the templates noderoll made for it. A group
	// that is already gone is not an error.
	Delete(ctx context.Context) error
}
