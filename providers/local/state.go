package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

const groupFile = "group.json"

// group is group.json: what a cloud keeps about a scaling group.
type group struct {
	Pool string `json:"pool"`
	// Template is the ID of the template new nodes run.
	Template string `json:"template"`
	// Origin is the template the rollout in progress started from.
	Origin string `json:"origin,omitempty"`
	// Desired is the group's desired node count.
	Desired int `json:"desired"`
	// Deleting is set while Delete stops the nodes; nothing new may start.
	Deleting  bool                      `json:"deleting,omitempty"`
	Templates map[string]templateRecord `json:"templates"`
	CreatedAt time.Time                 `json:"created_at"`
}

// templateRecord is a template's content. It is kept so that a node added
// later runs the command of the template the group points at, even when the
// Driver's Options changed since.
type templateRecord struct {
	Image       string            `json:"image"`
	MachineType string            `json:"machine_type"`
	Argv        []string          `json:"argv"`
	Env         map[string]string `json:"env,omitempty"`
	// Port is what {{port}} expands to and where the nodes serve: a new
	// port is a new template, so changing it rolls the pool.
	Port      int       `json:"port"`
	CreatedAt time.Time `json:"created_at"`
}

// nodeRecord is nodes/<id>.json.
type nodeRecord struct {
	ID string `json:"id"`
	// PID leads the node's session and process group (setsid), so PID is
	// also the group ID that stop signals.
	PID int `json:"pid"`
	// StartTime (field 22 of /proc/<pid>/stat) and BootID tell this process
	// from a later one that reuses the pid.
	StartTime uint64    `json:"start_time"`
	BootID    string    `json:"boot_id"`
	Address   string    `json:"address"`
	Port      int       `json:"port"`
	Template  string    `json:"template"`
	CreatedAt time.Time `json:"created_at"`
	// State is "running" from launch, "terminating" once removal began.
	State         string    `json:"state"`
	TerminatingAt time.Time `json:"terminating_at,omitzero"`
}

func (r *nodeRecord) terminatingSince() time.Time {
	if r.TerminatingAt.IsZero() {
		return r.CreatedAt
	}
	return r.TerminatingAt
}

const (
	recordRunning     = "running"
	recordTerminating = "terminating"
)

// templateID is deterministic in everything that makes a node: the same
// spec, command, environment and port give the same ID, any difference a
// new one.
func templateID(tr templateRecord) string {
	keys := make([]string, 0, len(tr.Env))
	for k := range tr.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	env := make([]string, 0, len(keys))
	for _, k := range keys {
		env = append(env, k+"="+tr.Env[k])
	}
	b, _ := json.Marshal([]any{tr.Image, tr.MachineType, tr.Argv, env, tr.Port}) // plain strings: cannot fail
	sum := sha256.Sum256(b)
	return "tpl-" + hex.EncodeToString(sum[:])[:12]
}

// templateFor returns the template Options make for image and machine type.
func (d *Driver) templateFor(image, machineType string) (string, templateRecord) {
	tr := templateRecord{Image: image, MachineType: machineType, Argv: d.o.Command, Env: d.o.Env, Port: d.o.Port}
	return templateID(tr), tr
}

// resolveTemplate finds t's content: in the group's map, or recomputed from
// Options when t was prepared before the group existed.
func (d *Driver) resolveTemplate(g *group, t rollout.Template) (templateRecord, error) {
	if g != nil {
		if tr, ok := g.Templates[t.ID]; ok {
			return tr, nil
		}
	}
	id, tr := d.templateFor(t.Image, t.MachineType)
	if id != t.ID {
		return tr, d.errorf("%w: template %s (image %q, machine type %q) was not prepared for this pool with its current command", ErrInvalid, t.ID, t.Image, t.MachineType)
	}
	return tr, nil
}

// state is the pool's files, read under the lock.
type state struct {
	d     *Driver
	lock  *flock.Flock
	group *group // nil when the pool does not exist
	nodes map[string]*nodeRecord
}

// open takes the pool's lock and reads its files. The caller must call
// close. The lock file sits beside the pool's directory, not in it, so that
// Delete can remove the directory while holding the lock.
func (d *Driver) open(ctx context.Context) (*state, error) {
	if err := os.MkdirAll(d.o.StateDir, 0o755); err != nil {
		return nil, d.errorf("state directory: %w", err)
	}
	lock := flock.New(filepath.Join(d.o.StateDir, d.o.Pool+".lock"))
	lctx, cancel := context.WithTimeout(ctx, d.o.LockTimeout)
	defer cancel()
	ok, err := lock.TryLockContext(lctx, 10*time.Millisecond)
	if !ok {
		if ctx.Err() != nil {
			return nil, d.errorf("waiting for the lock: %w", ctx.Err())
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return nil, d.errorf("lock: %w", err)
		}
		return nil, d.errorf("%w (waited %v)", ErrBusy, d.o.LockTimeout)
	}
	s := &state{d: d, lock: lock, nodes: map[string]*nodeRecord{}}
	if err := s.read(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *state) close() { _ = s.lock.Unlock() }

func (s *state) read() error {
	dir := s.d.poolDir()
	b, err := os.ReadFile(filepath.Join(dir, groupFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return s.d.errorf("read group: %w", err)
	}
	var g group
	if err := json.Unmarshal(b, &g); err != nil {
		return s.d.errorf("parse %s: %w", filepath.Join(dir, groupFile), err)
	}
	if g.Templates == nil {
		g.Templates = map[string]templateRecord{}
	}
	s.group = &g
	ents, err := os.ReadDir(filepath.Join(dir, "nodes"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return s.d.errorf("read nodes: %w", err)
	}
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !validNodeID(id) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, "nodes", e.Name()))
		if err != nil {
			return s.d.errorf("read node %s: %w", id, err)
		}
		var r nodeRecord
		if err := json.Unmarshal(b, &r); err != nil {
			return s.d.errorf("parse node %s: %w", id, err)
		}
		s.nodes[id] = &r
	}
	return nil
}

// requireGroup returns ErrPoolNotFound unless the group exists and is not
// being deleted.
func (s *state) requireGroup() error {
	if s.group == nil || s.group.Deleting {
		return s.d.errorf("%w in %s", ErrPoolNotFound, s.d.o.StateDir)
	}
	return nil
}

func (s *state) writeGroup() error {
	dir := s.d.poolDir()
	for _, sub := range []string{"nodes", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return s.d.errorf("create pool directory: %w", err)
		}
	}
	return writeJSON(filepath.Join(dir, groupFile), s.group)
}

func (s *state) writeNode(r *nodeRecord) error {
	s.nodes[r.ID] = r
	return writeJSON(s.nodePath(r.ID, ".json"), r)
}

// deleteNode forgets a node whose process is gone. Its log stays.
func (s *state) deleteNode(id string) error {
	for _, ext := range []string{".json", ".exit"} {
		if err := os.Remove(s.nodePath(id, ext)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return s.d.errorf("delete node %s: %w", id, err)
		}
	}
	delete(s.nodes, id)
	return nil
}

func (s *state) nodePath(id, ext string) string {
	return filepath.Join(s.d.poolDir(), "nodes", id+ext)
}

// sortedNodes returns the records oldest first.
func (s *state) sortedNodes() []*nodeRecord {
	out := make([]*nodeRecord, 0, len(s.nodes))
	for _, r := range s.nodes {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// writeJSON replaces path atomically: a reader sees the old or the new
// content, never a torn file, even if this process dies mid-write.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

var nodeIDPattern = regexp.MustCompile(`^[a-z0-9-]{1,80}$`)

// validNodeID keeps ids from the engine or the directory from naming a path
// outside the pool.
func validNodeID(id string) bool { return nodeIDPattern.MatchString(id) }
