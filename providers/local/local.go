// Package local is noderoll's backend whose nodes are local processes. It
// behaves like a small cloud: a pool is a group with a desired size and a
// template it points at; Resize launches nodes from that template and
// RemoveNodes deletes exactly the named ones. It is the embedded default of
// the Terraform provider, the demo, and the backend acceptance tests run on.
//
// State lives in files, so nodes outlive the process that launched them (a
// Terraform provider exits after every apply) and a later run rediscovers
// them:
//
//	<StateDir>/<pool>.lock             exclusive lock taken by every call
//	<StateDir>/<pool>/group.json       template, origin, desired size, templates
//	<StateDir>/<pool>/nodes/<id>.json  pid, start time, address, template, state
//	<StateDir>/<pool>/nodes/<id>.exit  exit status, written when the node exits
//	<StateDir>/<pool>/logs/<id>.log    the node's stdout and stderr
//
// Addresses: every node gets its own loopback IP address (Options.Network,
// 127.77.0.0/16 by default; Linux routes all of 127.0.0.0/8 to lo) and the
// same port (Options.Port). Probes then look exactly as on a real cloud: one
// port, a different IP per node.
//
// Exit status: a node runs as `sh -c '"$@"; echo $? > <id>.exit' <argv>`, the
// shell leading a new session (setsid) so the node survives the process that
// launched it and can be stopped as a whole process group. The shell records
// the command's status whoever its parent is by then, so a node that crashed
// after Terraform exited still reports "exited with status 1".
//
// The package is Linux only: it reads /proc to tell a live node from a reused
// pid, and binds addresses across 127.0.0.0/8.
package local

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

var (
	_ rollout.Driver    = (*Driver)(nil)
	_ rollout.Lifecycle = (*Driver)(nil)
)

// Defaults for Options fields left zero.
const (
	DefaultNetwork     = "127.77.0.0/16"
	DefaultPort        = 8080
	DefaultBootTimeout = time.Minute
	DefaultStopTimeout = 10 * time.Second
	DefaultLockTimeout = 10 * time.Second
)

// Errors the driver classifies (see Driver.ErrorCode). They are returned
// wrapped with context.
var (
	// ErrPoolNotFound: the pool's group does not exist (or is being deleted).
	ErrPoolNotFound = errors.New("pool not found")
	// ErrBusy: another run holds the pool's lock beyond Options.LockTimeout.
	ErrBusy = errors.New("pool is locked by another operation")
	// ErrInvalid: options, a template or a size that can never work.
	ErrInvalid = errors.New("invalid request")
	// ErrNoAddress: every address of Options.Network is taken.
	ErrNoAddress = errors.New("no free loopback address")
)

// Options configure a Driver.
type Options struct {
	// StateDir holds the pools' state (see the package comment). Required.
	StateDir string
	// Pool names the group: 1 to 63 characters of a-z, 0-9 and '-'. Required.
	Pool string
	// Command is the argv a node runs. Each element may use the placeholders
	// {{image}}, {{machine_type}}, {{address}}, {{port}}, {{node_id}} and
	// {{pool}}. It is part of the template: a node keeps the command of the
	// template it was made from. Required.
	Command []string
	// Env is added to the node's environment (values may use placeholders).
	// Nodes also get NODEROLL_NODE_ID, NODEROLL_POOL, NODEROLL_ADDRESS,
	// NODEROLL_PORT, NODEROLL_IMAGE and NODEROLL_MACHINE_TYPE.
	Env map[string]string
	// WorkDir is the nodes' working directory, against which a relative
	// Command[0] resolves. Empty means the working directory of the process
	// calling New (for Terraform, where terraform runs), so a configuration
	// can say ["./app"].
	WorkDir string
	// Network is the loopback prefix node addresses come from; it must lie
	// within 127.0.0.0/8. Default DefaultNetwork.
	Network string
	// Port is the port every node serves on ({{port}}), the same on every
	// node's address. It is part of the template: changing it rolls the
	// pool. Default DefaultPort.
	Port int
	// BootTimeout: a live node is provisioning until it accepts TCP
	// connections on its address and port; after BootTimeout it is reported
	// running anyway (with a Detail) so that health probes, not the backend,
	// fail it. Default DefaultBootTimeout.
	BootTimeout time.Duration
	// StopTimeout is how long a removed node has to exit after SIGTERM
	// before SIGKILL. Default DefaultStopTimeout.
	StopTimeout time.Duration
	// LockTimeout is how long a call waits for the pool's lock before
	// failing with a Conflict error. Default DefaultLockTimeout.
	LockTimeout time.Duration
}

var poolName = regexp.MustCompile(`^[a-z0-9-]{1,63}$`)

// ValidatePoolName reports whether name can name a local pool.
func ValidatePoolName(name string) error {
	if !poolName.MatchString(name) {
		return fmt.Errorf("%w: pool name %q: want 1 to 63 characters of a-z, 0-9 and '-'", ErrInvalid, name)
	}
	return nil
}

// withDefaults validates o and fills in defaults.
func (o Options) withDefaults() (Options, netip.Prefix, error) {
	if o.StateDir == "" {
		return o, netip.Prefix{}, fmt.Errorf("%w: StateDir is required", ErrInvalid)
	}
	abs, err := filepath.Abs(o.StateDir)
	if err != nil {
		return o, netip.Prefix{}, fmt.Errorf("%w: StateDir %q: %v", ErrInvalid, o.StateDir, err)
	}
	o.StateDir = abs
	if o.WorkDir, err = filepath.Abs(o.WorkDir); err != nil { // "" is the current directory
		return o, netip.Prefix{}, fmt.Errorf("%w: WorkDir %q: %v", ErrInvalid, o.WorkDir, err)
	}
	if err := ValidatePoolName(o.Pool); err != nil {
		return o, netip.Prefix{}, err
	}
	if len(o.Command) == 0 || o.Command[0] == "" {
		return o, netip.Prefix{}, fmt.Errorf("%w: Command is required (the argv a node runs)", ErrInvalid)
	}
	for k := range o.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return o, netip.Prefix{}, fmt.Errorf("%w: Env name %q", ErrInvalid, k)
		}
	}
	if o.Network == "" {
		o.Network = DefaultNetwork
	}
	network, err := netip.ParsePrefix(o.Network)
	if err != nil {
		return o, netip.Prefix{}, fmt.Errorf("%w: Network %q: %v", ErrInvalid, o.Network, err)
	}
	network = network.Masked()
	if !network.Addr().Is4() || network.Bits() < 8 || !loopback.Contains(network.Addr()) {
		return o, netip.Prefix{}, fmt.Errorf("%w: Network %q: want a prefix within 127.0.0.0/8, such as %s", ErrInvalid, o.Network, DefaultNetwork)
	}
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.Port < 1 || o.Port > 65535 {
		return o, netip.Prefix{}, fmt.Errorf("%w: Port %d: want 1 to 65535", ErrInvalid, o.Port)
	}
	if o.BootTimeout <= 0 {
		o.BootTimeout = DefaultBootTimeout
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = DefaultStopTimeout
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	return o, network, nil
}

var loopback = netip.MustParsePrefix("127.0.0.0/8")

// Driver is a pool of local processes. It is safe for concurrent use, and
// several Drivers (in one process or many) may share a state directory: every
// call takes the pool's file lock.
type Driver struct {
	o       Options
	network netip.Prefix
	bootID  string
}

// New validates o and returns a Driver. It touches nothing on disk.
func New(o Options) (*Driver, error) {
	o, network, err := o.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	if err := supported(); err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	bootID, err := readBootID()
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	return &Driver{o: o, network: network, bootID: bootID}, nil
}

// Exists reports whether stateDir holds a pool named pool. Terraform import
// uses it to adopt an existing pool.
func Exists(stateDir, pool string) (bool, error) {
	if err := ValidatePoolName(pool); err != nil {
		return false, fmt.Errorf("local: %w", err)
	}
	_, err := os.Stat(filepath.Join(stateDir, pool, groupFile))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("local: pool %q in %s: %w", pool, stateDir, err)
	}
	return true, nil
}

// PoolInfo is what a pool's state directory records about it.
type PoolInfo struct {
	// Template is the template the group points at; Command and Env are its
	// argv and environment, as given in Options (placeholders unexpanded).
	Template rollout.Template
	Command  []string
	Env      map[string]string
	// Port is the port nodes of Template serve on.
	Port int
	// Size is the desired node count.
	Size int
	// Origin is the template a rollout in progress started from.
	Origin string
}

// Inspect reads what stateDir records about pool, without a Driver and
// without starting anything: Terraform import uses it to fill in the
// configuration of a pool it adopts. A missing pool is an error wrapping
// ErrPoolNotFound.
func Inspect(ctx context.Context, stateDir, pool string) (PoolInfo, error) {
	d := &Driver{o: Options{StateDir: stateDir, Pool: pool, LockTimeout: DefaultLockTimeout}}
	if err := ValidatePoolName(pool); err != nil {
		return PoolInfo{}, fmt.Errorf("local: %w", err)
	}
	s, err := d.open(ctx)
	if err != nil {
		return PoolInfo{}, err
	}
	defer s.close()
	if err := s.requireGroup(); err != nil {
		return PoolInfo{}, err
	}
	g := s.group
	tr := g.Templates[g.Template]
	return PoolInfo{
		Template: rollout.Template{ID: g.Template, Image: tr.Image, MachineType: tr.MachineType},
		Command:  append([]string(nil), tr.Argv...),
		Env:      maps.Clone(tr.Env),
		Port:     tr.Port,
		Size:     g.Desired,
		Origin:   g.Origin,
	}, nil
}

// LogPath is the file that holds node id's stdout and stderr. It stays after
// the node is removed, until the pool is deleted.
func (d *Driver) LogPath(id string) string {
	return filepath.Join(d.poolDir(), "logs", id+".log")
}

// ErrorCode classifies the driver's errors.
func (d *Driver) ErrorCode(err error) rollout.ErrorCode {
	switch {
	case err == nil:
		return rollout.Unknown
	case errors.Is(err, ErrPoolNotFound):
		return rollout.NotFound
	case errors.Is(err, ErrBusy):
		return rollout.Conflict
	case errors.Is(err, ErrInvalid):
		return rollout.Invalid
	case errors.Is(err, ErrNoAddress):
		return rollout.Quota
	}
	return rollout.Unknown
}

func (d *Driver) poolDir() string { return filepath.Join(d.o.StateDir, d.o.Pool) }

func (d *Driver) errorf(format string, args ...any) error {
	return fmt.Errorf("local pool %q: "+format, append([]any{d.o.Pool}, args...)...)
}

// checkContext returns ctx's error, wrapped, when it is done.
func checkContext(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	return nil
}
