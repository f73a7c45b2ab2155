//go:build linux

package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// appBin is examples/local/app, built once for the test binary.
var appBin string

// testPort is the port every test node serves on: free on 127.0.0.1 when
// the tests start, so no wildcard listener holds it.
var testPort int

func TestMain(m *testing.M) {
	if spec := os.Getenv(launcherEnv); spec != "" {
		os.Exit(launcher(spec))
	}
	os.Exit(testMain(m))
}

// launcherEnv makes the test binary a stand-in for a Terraform provider
// process: it launches one node and exits, as an apply does.
const launcherEnv = "NODEROLL_LOCAL_TEST_LAUNCHER"

// launcher reads Options as JSON from spec, makes a pool on image v1 with
// one node and exits without stopping it.
func launcher(spec string) int {
	var o Options
	if err := json.Unmarshal([]byte(spec), &o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	d, err := New(o)
	if err == nil {
		var tpl rollout.Template
		if tpl, err = d.PrepareTemplate(ctx, rollout.Spec{Image: "v1", MachineType: "small"}); err == nil {
			if err = d.Create(ctx, tpl); err == nil {
				err = d.Resize(ctx, 1)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "noderoll-local-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	appBin = filepath.Join(dir, "app")
	build := exec.Command("go", "build", "-o", appBin, "../../examples/local/app")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build app: %v\n%s", err, out)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	testPort = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return m.Run()
}

// env is one test's state directory and the marker every process it starts
// carries in its environment, so cleanup can find them all.
type env struct {
	t      *testing.T
	dir    string
	marker string
}

// newEnv makes a state directory and registers a cleanup that fails the
// test if any process the test started is still alive at the end (after the
// test's own cleanups), killing it so nothing leaks.
func newEnv(t *testing.T) *env {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	e := &env{t: t, dir: t.TempDir(), marker: hex.EncodeToString(b[:])}
	t.Cleanup(func() {
		if pids := e.pids(); len(pids) > 0 {
			t.Errorf("processes left running by the test: %v", pids)
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return e
}

// pids lists live processes carrying the test's marker.
func (e *env) pids() []int {
	want := []byte("NODEROLL_TEST_MARK=" + e.marker + "\x00")
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + ent.Name() + "/environ")
		if err != nil || !bytes.Contains(b, want) {
			continue
		}
		if st, err := readProcStat(pid); err == nil && st.state != 'Z' && st.state != 'X' {
			out = append(out, pid)
		}
	}
	return out
}

// options returns Options for pool running the demo app with extra flags.
func (e *env) options(pool string, extra ...string) Options {
	return Options{
		StateDir: e.dir,
		Pool:     pool,
		Command: append([]string{appBin,
			"--listen", "{{address}}:{{port}}",
			"--version", "{{image}}",
			"--node-id", "{{node_id}}",
		}, extra...),
		Env:         map[string]string{"NODEROLL_TEST_MARK": e.marker},
		Port:        testPort,
		StopTimeout: 3 * time.Second,
		BootTimeout: 30 * time.Second,
	}
}

// driver returns a Driver for o and deletes its pool when the test ends.
func (e *env) driver(o Options) *Driver {
	e.t.Helper()
	d, err := New(o)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if err := d.Delete(context.Background()); err != nil {
			e.t.Errorf("cleanup: Delete: %v", err)
		}
	})
	return d
}

// pool creates a pool on image and resizes it to n running nodes.
func (e *env) pool(d *Driver, image string, n int) (rollout.Template, rollout.Pool) {
	e.t.Helper()
	ctx := context.Background()
	tpl, err := d.PrepareTemplate(ctx, rollout.Spec{Image: image, MachineType: "small"})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := d.Create(ctx, tpl); err != nil {
		e.t.Fatal(err)
	}
	if err := d.Resize(ctx, n); err != nil {
		e.t.Fatal(err)
	}
	return tpl, waitFor(e.t, d, fmt.Sprintf("%d running nodes", n), func(p rollout.Pool) bool {
		return count(p, rollout.NodeRunning) == n && len(p.Nodes) == n
	})
}

// waitFor polls Describe until cond holds; the processes are real, so this
// waits in real time, bounded generously.
func waitFor(t *testing.T, d *Driver, what string, cond func(rollout.Pool) bool) rollout.Pool {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := d.Describe(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if cond(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s:\n%s", what, format(p))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func describe(t *testing.T, d *Driver) rollout.Pool {
	t.Helper()
	p, err := d.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func count(p rollout.Pool, s rollout.NodeState) int {
	n := 0
	for _, node := range p.Nodes {
		if node.State == s {
			n++
		}
	}
	return n
}

func format(p rollout.Pool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  template=%s origin=%q size=%d\n", p.Template.ID, p.Origin, p.Size)
	for _, n := range p.Nodes {
		fmt.Fprintf(&b, "  - %s template=%s address=%s state=%s %s\n", n.ID, n.Template, n.Address, n.State, n.Detail)
	}
	return b.String()
}

// get fetches http://<node address>:<testPort><path>.
func get(t *testing.T, n rollout.Node, path string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + net.JoinHostPort(n.Address, strconv.Itoa(testPort)) + path)
	if err != nil {
		t.Fatalf("node %s: %v", n.ID, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// record reads a node's record from disk.
func record(t *testing.T, d *Driver, id string) *nodeRecord {
	t.Helper()
	s, err := d.open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	r, ok := s.nodes[id]
	if !ok {
		t.Fatalf("no record for node %s", id)
	}
	return r
}

// appPID is the pid of the app process inside node r's process group (the
// group leader is the wrapper shell).
func appPID(t *testing.T, r *nodeRecord) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ents, _ := os.ReadDir("/proc")
		for _, ent := range ents {
			pid, err := strconv.Atoi(ent.Name())
			if err != nil || pid == r.PID {
				continue
			}
			if st, err := readProcStat(pid); err == nil && st.pgrp == r.PID && st.state != 'Z' {
				return pid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no app process in group %d", r.PID)
	return 0
}

func processAlive(pid int) bool {
	st, err := readProcStat(pid)
	return err == nil && st.state != 'Z' && st.state != 'X'
}
