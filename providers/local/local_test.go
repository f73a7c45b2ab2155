//go:build linux

package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gofrs/flock"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

func TestOptionsInvalid(t *testing.T) {
	good := Options{StateDir: t.TempDir(), Pool: "web", Command: []string{"app"}}
	for name, mod := range map[string]func(*Options){
		"no state dir":    func(o *Options) { o.StateDir = "" },
		"no pool":         func(o *Options) { o.Pool = "" },
		"upper-case pool": func(o *Options) { o.Pool = "Web" },
		"pool with slash": func(o *Options) { o.Pool = "a/b" },
		"pool too long":   func(o *Options) { o.Pool = strings.Repeat("a", 64) },
		"no command":      func(o *Options) { o.Command = nil },
		"empty argv0":     func(o *Options) { o.Command = []string{""} },
		"env name with =": func(o *Options) { o.Env = map[string]string{"A=B": "c"} },
		"public network":  func(o *Options) { o.Network = "10.0.0.0/16" },
		"wider than lo":   func(o *Options) { o.Network = "0.0.0.0/0" },
		"ipv6 network":    func(o *Options) { o.Network = "::1/128" },
		"garbage network": func(o *Options) { o.Network = "localhost" },
		"port too high":   func(o *Options) { o.Port = 70000 },
		"port negative":   func(o *Options) { o.Port = -1 },
	} {
		t.Run(name, func(t *testing.T) {
			o := good
			mod(&o)
			_, err := New(o)
			if err == nil {
				t.Fatal("New accepted invalid options")
			}
			if c := (&Driver{}).ErrorCode(err); c != rollout.Invalid {
				t.Errorf("%v classified %s, want invalid", err, c)
			}
		})
	}
	if _, err := New(good); err != nil {
		t.Errorf("valid options: %v", err)
	}
	o := good
	o.Network = "127.5.0.0/24"
	if _, err := New(o); err != nil {
		t.Errorf("a loopback /24: %v", err)
	}
}

func TestParseProcStat(t *testing.T) {
	// A command name with spaces and a parenthesis must not shift fields.
	line := "4242 (we ird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 50 0 0"
	st, err := parseProcStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st.state != 'S' || st.pgrp != 4242 || st.startTime != 987654 {
		t.Errorf("parsed %+v, want state S pgrp 4242 starttime 987654", st)
	}
	if _, err := parseProcStat("4242 (x) S 1 2"); err == nil {
		t.Error("a truncated stat line parsed")
	}
}

func TestPrepareTemplate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := e.driver(e.options("web"))
	spec := rollout.Spec{Image: "v1", MachineType: "small"}
	a, err := d.PrepareTemplate(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	// Before Create nothing is written.
	if ok, err := Exists(e.dir, "web"); err != nil || ok {
		t.Fatalf("Exists before Create = %v, %v", ok, err)
	}
	if err := d.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	again, err := d.PrepareTemplate(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if a != again || !strings.HasPrefix(a.ID, "tpl-") || len(a.ID) != len("tpl-")+12 {
		t.Errorf("templates %+v then %+v, want the same tpl-<12 hex>", a, again)
	}
	if a.Image != "v1" || a.MachineType != "small" {
		t.Errorf("template %+v does not carry the spec", a)
	}
	other := map[string]rollout.Template{}
	for name, s := range map[string]rollout.Spec{
		"image":        {Image: "v2", MachineType: "small"},
		"machine type": {Image: "v1", MachineType: "large"},
	} {
		tpl, err := d.PrepareTemplate(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if tpl.ID == a.ID {
			t.Errorf("a different %s gave the same template %s", name, tpl.ID)
		}
		other[name] = tpl
	}
	// Another command is another template.
	o := e.options("web", "--fail-health")
	d2, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if tpl, err := d2.PrepareTemplate(ctx, spec); err != nil || tpl.ID == a.ID {
		t.Errorf("another command gave template %s (%v), want one different from %s", tpl.ID, err, a.ID)
	}
	// A template prepared for another command cannot be used by a driver
	// that cannot make it.
	foreign := rollout.Template{ID: "tpl-000000000000", Image: "v9", MachineType: "small"}
	if err := d.UseTemplate(ctx, foreign, ""); d.ErrorCode(err) != rollout.Invalid {
		t.Errorf("UseTemplate(unknown template) = %v, want an invalid error", err)
	}
	if _, err := d.PrepareTemplate(ctx, rollout.Spec{MachineType: "small"}); d.ErrorCode(err) != rollout.Invalid {
		t.Errorf("PrepareTemplate without image = %v, want an invalid error", err)
	}
}

func TestCreateResizeDescribe(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := e.driver(e.options("web"))
	if _, err := d.Describe(ctx); d.ErrorCode(err) != rollout.NotFound {
		t.Fatalf("Describe before Create = %v, want not found", err)
	}
	if err := d.Resize(ctx, 1); d.ErrorCode(err) != rollout.NotFound {
		t.Fatalf("Resize before Create = %v, want not found", err)
	}
	tpl, p := e.pool(d, "v1", 3)
	if p.Name != "web" || p.Size != 3 || p.Template != tpl || p.Origin != "" {
		t.Errorf("pool %+v, want web size 3 on %s", p, tpl.ID)
	}
	addrs := map[string]bool{}
	for _, n := range p.Nodes {
		if addrs[n.Address] {
			t.Errorf("address %s used twice", n.Address)
		}
		addrs[n.Address] = true
		if !strings.HasPrefix(n.Address, "127.77.") {
			t.Errorf("node %s address %s is not in %s", n.ID, n.Address, DefaultNetwork)
		}
		if n.Template != tpl.ID || n.Zone != Zone || n.CreatedAt.IsZero() || n.Detail != "" {
			t.Errorf("node %+v", n)
		}
		// Same port, own address: exactly what a prober on a cloud sees.
		if status, body := get(t, n, "/healthz"); status != 200 || body != "ok version=v1\n" {
			t.Errorf("node %s /healthz = %d %q", n.ID, status, body)
		}
		if _, body := get(t, n, "/"); !strings.Contains(body, "node "+n.ID) {
			t.Errorf("node %s serves %q, which does not name it", n.ID, body)
		}
	}
	// Resize is absolute: repeating it starts nothing.
	if err := d.Resize(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if again := describe(t, d); len(again.Nodes) != 3 {
		t.Errorf("after a repeated Resize(3): %d nodes", len(again.Nodes))
	}
	if err := d.Resize(ctx, -1); d.ErrorCode(err) != rollout.Invalid {
		t.Errorf("Resize(-1) = %v, want invalid", err)
	}
	// Create again with the same template is fine; with another it is not.
	if err := d.Create(ctx, tpl); err != nil {
		t.Errorf("Create again: %v", err)
	}
	v2, _ := d.PrepareTemplate(ctx, rollout.Spec{Image: "v2", MachineType: "small"})
	if err := d.Create(ctx, v2); d.ErrorCode(err) != rollout.Invalid {
		t.Errorf("Create with another template = %v, want invalid", err)
	}
}

func TestUseTemplateAndScaleIn(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := e.driver(e.options("web"))
	v1, p := e.pool(d, "v1", 1)
	old := p.Nodes[0]
	v2, err := d.PrepareTemplate(ctx, rollout.Spec{Image: "v2", MachineType: "small"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.UseTemplate(ctx, v2, v1.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.Resize(ctx, 3); err != nil {
		t.Fatal(err)
	}
	p = waitFor(t, d, "3 running nodes", func(p rollout.Pool) bool { return count(p, rollout.NodeRunning) == 3 })
	if p.Template != v2 || p.Origin != v1.ID {
		t.Errorf("group template %s origin %q, want %s from %s", p.Template.ID, p.Origin, v2.ID, v1.ID)
	}
	var newest rollout.Node
	for _, n := range p.Nodes {
		want, version := v2.ID, "v2"
		if n.ID == old.ID {
			want, version = v1.ID, "v1"
		}
		if n.Template != want {
			t.Errorf("node %s on %s, want %s", n.ID, n.Template, want)
		}
		if _, body := get(t, n, "/healthz"); body != "ok version="+version+"\n" {
			t.Errorf("node %s answers %q, want version %s", n.ID, body, version)
		}
		if n.CreatedAt.After(newest.CreatedAt) {
			newest = n
		}
	}
	// Scale in: the node on the old template goes first, then the newest.
	if err := d.Resize(ctx, 1); err != nil {
		t.Fatal(err)
	}
	p = describe(t, d)
	if len(p.Nodes) != 1 || p.Nodes[0].ID == old.ID || p.Nodes[0].ID == newest.ID {
		t.Errorf("after Resize(1) from [old v1, v2, newest v2], want the older v2 node:\n%s", format(p))
	}
	if p.Size != 1 {
		t.Errorf("size %d, want 1", p.Size)
	}
}

func TestRemoveNodesGraceful(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := e.driver(e.options("web"))
	_, p := e.pool(d, "v1", 3)
	victim := p.Nodes[1]
	r := record(t, d, victim.ID)
	app := appPID(t, r)
	if err := d.RemoveNodes(ctx, []string{victim.ID, "web-unknown", victim.ID}); err != nil {
		t.Fatal(err)
	}
	if processAlive(app) || processAlive(r.PID) {
		t.Errorf("node %s's processes %d, %d still alive after RemoveNodes", victim.ID, r.PID, app)
	}
	after := describe(t, d)
	if after.Size != 2 || len(after.Nodes) != 2 {
		t.Fatalf("after removing 1 of 3: size %d:\n%s", after.Size, format(after))
	}
	for _, n := range after.Nodes {
		if n.ID == victim.ID || n.State != rollout.NodeRunning {
			t.Errorf("unexpected node after removal: %+v", n)
		}
	}
	// The app logged a graceful stop: it got SIGTERM and drained.
	log, err := os.ReadFile(d.LogPath(victim.ID))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "terminated, drained") {
		t.Errorf("node log has no graceful stop:\n%s", log)
	}
	// Repeated and unknown removals are no-ops.
	if err := d.RemoveNodes(ctx, []string{victim.ID}); err != nil {
		t.Fatal(err)
	}
	if got := describe(t, d).Size; got != 2 {
		t.Errorf("after removing a gone node, size %d, want 2", got)
	}
	if err := d.RemoveNodes(ctx, []string{"../../etc"}); err != nil {
		t.Errorf("RemoveNodes(path-like id) = %v, want a no-op", err)
	}
}

func TestRemoveNodesKillsAfterStopTimeout(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	o := e.options("stubborn", "--ignore-sigterm")
	o.StopTimeout = 300 * time.Millisecond
	d := e.driver(o)
	_, p := e.pool(d, "v1", 1)
	r := record(t, d, p.Nodes[0].ID)
	app := appPID(t, r)
	if err := d.RemoveNodes(ctx, []string{p.Nodes[0].ID}); err != nil {
		t.Fatal(err)
	}
	if processAlive(app) {
		t.Errorf("app %d ignoring SIGTERM survived RemoveNodes", app)
	}
	log, _ := os.ReadFile(d.LogPath(p.Nodes[0].ID))
	if strings.Contains(string(log), "drained") {
		t.Errorf("the app ignoring SIGTERM stopped gracefully, so SIGKILL was not exercised:\n%s", log)
	}
	if len(describe(t, d).Nodes) != 0 {
		t.Error("the node is still described")
	}
}

func TestRemoveNodesHonoursContext(t *testing.T) {
	e := newEnv(t)
	o := e.options("stubborn", "--ignore-sigterm")
	o.StopTimeout = time.Hour
	d := e.driver(o)
	_, p := e.pool(d, "v1", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := d.RemoveNodes(ctx, []string{p.Nodes[0].ID})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RemoveNodes with a short context = %v, want deadline exceeded", err)
	}
	// The node stays recorded as terminating; the pool already shrank.
	after := describe(t, d)
	if after.Size != 0 || len(after.Nodes) != 1 || after.Nodes[0].State != rollout.NodeTerminating {
		t.Errorf("after an interrupted removal:\n%s", format(after))
	}
	// Cleanup (Delete) must still stop it: with StopTimeout an hour, that
	// needs a driver with a short one, as an operator would use.
	o.StopTimeout = 200 * time.Millisecond
	d2, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.RemoveNodes(context.Background(), []string{p.Nodes[0].ID}); err != nil {
		t.Fatal(err)
	}
	if after := describe(t, d2); after.Size != 0 || len(after.Nodes) != 0 {
		t.Errorf("after the retried removal:\n%s", format(after))
	}
}

func TestCrashOnStartIsFailed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := e.driver(e.options("web"))
	tpl, err := d.PrepareTemplate(ctx, rollout.Spec{Image: "v3-crash", MachineType: "small"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Create(ctx, tpl); err != nil {
		t.Fatal(err)
	}
	if err := d.Resize(ctx, 1); err != nil {
		t.Fatal(err)
	}
	p := waitFor(t, d, "a failed node", func(p rollout.Pool) bool { return count(p, rollout.NodeFailed) == 1 })
	if d := p.Nodes[0].Detail; !strings.HasPrefix(d, "exited with status 1: ") || !strings.Contains(d, "config invalid") {
		t.Errorf("Detail %q, want the exit status and the app's last words", d)
	}
	// A failed node still counts: Resize does not replace it by itself.
	if err := d.Resize(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if p := describe(t, d); len(p.Nodes) != 1 {
		t.Errorf("Resize(1) with a failed member:\n%s", format(p))
	}
}

func TestFailingHealthIsRunning(t *testing.T) {
	e := newEnv(t)
	d := e.driver(e.options("web"))
	_, p := e.pool(d, "v3", 1)
	// The backend says running; failing the node is the prober's call.
	if status, body := get(t, p.Nodes[0], "/healthz"); status != 500 || !strings.Contains(body, "dependency check failed") {
		t.Errorf("v3 /healthz = %d %q, want 500 dependency check failed", status, body)
	}
}

func TestBooting(t *testing.T) {
	e := newEnv(t)
	d := e.driver(e.options("slow", "--slow-start", "1h"))
	ctx := context.Background()
	tpl, _ := d.PrepareTemplate(ctx, rollout.Spec{Image: "v1", MachineType: "small"})
	if err := d.Create(ctx, tpl); err != nil {
		t.Fatal(err)
	}
	if err := d.Resize(ctx, 1); err != nil {
		t.Fatal(err)
	}
	p := describe(t, d)
	if n := p.Nodes[0]; n.State != rollout.NodeProvisioning || !strings.Contains(n.Detail, "booting") {
		t.Errorf("a node not yet listening: %+v, want provisioning", n)
	}
	// Past BootTimeout the backend stops waiting: running, and the probes
	// will fail it.
	o := e.options("slow", "--slow-start", "1h")
	o.BootTimeout = time.Nanosecond
	late, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if n := describe(t, late).Nodes[0]; n.State != rollout.NodeRunning || !strings.Contains(n.Detail, "not accepting connections") {
		t.Errorf("a node past BootTimeout: %+v, want running with a detail", n)
	}
}

func TestNodesOutliveDriver(t *testing.T) {
	e := newEnv(t)
	o := e.options("web")
	first, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	_, p := e.pool(first, "v1", 2)
	// A second Driver value, as the next terraform run would make.
	second := e.driver(o)
	again := describe(t, second)
	if len(again.Nodes) != 2 || again.Size != 2 {
		t.Fatalf("a new driver sees:\n%s", format(again))
	}
	for i, n := range again.Nodes {
		if n.ID != p.Nodes[i].ID || n.Address != p.Nodes[i].Address || n.State != rollout.NodeRunning {
			t.Errorf("rediscovered %+v, want %+v running", n, p.Nodes[i])
		}
	}
	if err := second.RemoveNodes(context.Background(), []string{p.Nodes[0].ID}); err != nil {
		t.Fatal(err)
	}
	if left := describe(t, second); len(left.Nodes) != 1 || left.Nodes[0].ID != p.Nodes[1].ID {
		t.Errorf("after removal by the new driver:\n%s", format(left))
	}
}

func TestKilledNodeIsFailed(t *testing.T) {
	e := newEnv(t)
	d := e.driver(e.options("web"))
	_, p := e.pool(d, "v1", 2)
	// kill -9 the app of node 0: the wrapper records how it died.
	app := appPID(t, record(t, d, p.Nodes[0].ID))
	if err := syscall.Kill(app, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// kill -9 the whole process group of node 1, wrapper included.
	if err := syscall.Kill(-record(t, d, p.Nodes[1].ID).PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	after := waitFor(t, d, "2 failed nodes", func(p rollout.Pool) bool { return count(p, rollout.NodeFailed) == 2 })
	if got := after.Nodes[0].Detail; got != "killed by signal KILL (status 137): "+lastLine(d.LogPath(p.Nodes[0].ID)) {
		t.Errorf("node 0 detail %q", got)
	}
	if got := after.Nodes[1].Detail; !strings.HasPrefix(got, "exited (status not recorded") {
		t.Errorf("node 1 detail %q", got)
	}
	if after.Size != 2 {
		t.Errorf("size %d, want 2: dead nodes stay members until removed", after.Size)
	}
}

func TestPidReuseIsNotAlive(t *testing.T) {
	d := &Driver{bootID: "boot-a"}
	self := os.Getpid()
	st, err := readProcStat(self)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		r    nodeRecord
		want bool
	}{
		"same process":         {nodeRecord{PID: self, StartTime: st.startTime, BootID: "boot-a"}, true},
		"pid reused":           {nodeRecord{PID: self, StartTime: st.startTime + 1, BootID: "boot-a"}, false},
		"before a reboot":      {nodeRecord{PID: self, StartTime: st.startTime, BootID: "boot-b"}, false},
		"never started":        {nodeRecord{PID: 0, BootID: "boot-a"}, false},
		"pid that is not used": {nodeRecord{PID: 1 << 30, BootID: "boot-a"}, false},
	} {
		got, err := d.alive(&c.r)
		if err != nil || got != c.want {
			t.Errorf("%s: alive = %v, %v; want %v", name, got, err, c.want)
		}
	}
}

func TestLockBusyIsConflict(t *testing.T) {
	e := newEnv(t)
	o := e.options("web")
	o.LockTimeout = 50 * time.Millisecond
	d := e.driver(o)
	held := flock.New(filepath.Join(e.dir, "web.lock"))
	if err := held.Lock(); err != nil {
		t.Fatal(err)
	}
	_, err := d.Describe(context.Background())
	held.Unlock()
	if c := d.ErrorCode(err); c != rollout.Conflict || !c.Retryable() {
		t.Errorf("Describe while locked = %v (%s), want a retryable conflict", err, c)
	}
}

func TestConcurrentDrivers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	o := e.options("web")
	a := e.driver(o)
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	tpl, _ := e.pool(a, "v1", 1)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w, d := range []*Driver{a, b, a, b} {
		rng := rand.New(rand.NewPCG(uint64(w), 1))
		wg.Go(func() {
			for range 8 {
				var err error
				switch rng.IntN(4) {
				case 0:
					err = d.Resize(ctx, rng.IntN(4))
				case 1:
					var p rollout.Pool
					if p, err = d.Describe(ctx); err == nil && len(p.Nodes) > 0 {
						err = d.RemoveNodes(ctx, []string{p.Nodes[rng.IntN(len(p.Nodes))].ID})
					}
				case 2:
					_, err = d.Describe(ctx)
				case 3:
					err = d.UseTemplate(ctx, tpl, "")
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := b.Resize(ctx, 2); err != nil {
		t.Fatal(err)
	}
	p := waitFor(t, a, "2 running nodes", func(p rollout.Pool) bool { return count(p, rollout.NodeRunning) == 2 })
	if p.Size != 2 || len(p.Nodes) != 2 || p.Nodes[0].Address == p.Nodes[1].Address {
		t.Errorf("after concurrent changes and Resize(2):\n%s", format(p))
	}
	// Exactly the recorded nodes run: no process escaped the records.
	if pids := e.pids(); len(pids) != 4 { // wrapper shell and app per node
		t.Errorf("%d marked processes run for 2 nodes: %v", len(pids), pids)
	}
	ents, err := os.ReadDir(filepath.Join(e.dir, "web", "nodes"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ent := range ents {
		names = append(names, ent.Name())
	}
	if len(names) != 2 {
		t.Errorf("node directory holds %v, want 2 records and no temporary files", names)
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := e.driver(e.options("web"))
	e.pool(d, "v1", 2)
	if ok, err := Exists(e.dir, "web"); err != nil || !ok {
		t.Fatalf("Exists = %v, %v; want true", ok, err)
	}
	if err := d.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if pids := e.pids(); len(pids) > 0 {
		t.Errorf("processes alive after Delete: %v", pids)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "web")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pool directory after Delete: %v", err)
	}
	if ok, err := Exists(e.dir, "web"); err != nil || ok {
		t.Errorf("Exists after Delete = %v, %v; want false", ok, err)
	}
	if _, err := d.Describe(ctx); d.ErrorCode(err) != rollout.NotFound {
		t.Errorf("Describe after Delete = %v, want not found", err)
	}
	if err := d.Delete(ctx); err != nil {
		t.Errorf("Delete again: %v", err)
	}
	if _, err := Exists(e.dir, "../x"); err == nil {
		t.Error("Exists accepted a bad pool name")
	}
}

func TestAddressesDifferAcrossStateDirs(t *testing.T) {
	e1, e2 := newEnv(t), newEnv(t)
	d1 := e1.driver(e1.options("web"))
	d2 := e2.driver(e2.options("web"))
	_, p1 := e1.pool(d1, "v1", 1)
	_, p2 := e2.pool(d2, "v1", 1)
	if p1.Nodes[0].Address == p2.Nodes[0].Address {
		t.Errorf("two pools share address %s", p1.Nodes[0].Address)
	}
}

func ExampleNew() {
	d, err := New(Options{
		StateDir: "/var/lib/noderoll",
		Pool:     "web",
		Command:  []string{"app", "--listen", "{{address}}:{{port}}", "--version", "{{image}}"},
		Port:     8080,
	})
	fmt.Println(d != nil, err)
	// Output: true <nil>
}

func TestInspect(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := Inspect(ctx, e.dir, "web"); !errors.Is(err, ErrPoolNotFound) {
		t.Fatalf("Inspect of a missing pool = %v, want ErrPoolNotFound", err)
	}
	o := e.options("web", "--slow-start", "0s")
	d := e.driver(o)
	v1, _ := e.pool(d, "v1", 1)
	v2, err := d.PrepareTemplate(ctx, rollout.Spec{Image: "v2", MachineType: "small"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.UseTemplate(ctx, v2, v1.ID); err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(ctx, e.dir, "web")
	if err != nil {
		t.Fatal(err)
	}
	if info.Template != v2 || info.Origin != v1.ID || info.Size != 1 || info.Port != testPort {
		t.Errorf("Inspect = %+v, want template %s, origin %s, size 1, port %d", info, v2.ID, v1.ID, testPort)
	}
	if strings.Join(info.Command, " ") != strings.Join(o.Command, " ") || info.Env["NODEROLL_TEST_MARK"] != e.marker {
		t.Errorf("Inspect command %q env %v, want the options' %q", info.Command, info.Env, o.Command)
	}
	// A driver built from what Inspect read makes the same templates: an
	// imported pool converges without a roll.
	again, err := New(Options{StateDir: e.dir, Pool: "web", Command: info.Command, Env: info.Env, Port: info.Port})
	if err != nil {
		t.Fatal(err)
	}
	if tpl, err := again.PrepareTemplate(ctx, rollout.Spec{Image: "v2", MachineType: "small"}); err != nil || tpl != v2 {
		t.Errorf("template from the inspected command = %+v, %v; want %+v", tpl, err, v2)
	}
}

func TestPortIsPartOfTemplate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	o := e.options("web")
	d := e.driver(o)
	a, _ := e.pool(d, "v1", 1)
	o.Port = testPort + 1
	moved, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := moved.PrepareTemplate(ctx, rollout.Spec{Image: "v1", MachineType: "small"})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == b.ID {
		t.Fatalf("port %d and %d share template %s", testPort, o.Port, a.ID)
	}
	// Nodes of a template serve on its port, whichever driver launched them.
	if err := moved.Resize(ctx, 2); err != nil {
		t.Fatal(err)
	}
	p := waitFor(t, d, "2 running nodes", func(p rollout.Pool) bool { return count(p, rollout.NodeRunning) == 2 })
	for _, n := range p.Nodes {
		if status, _ := get(t, n, "/healthz"); status != 200 {
			t.Errorf("node %s does not serve on its template's port %d", n.ID, testPort)
		}
	}
}

// The engine describes a pool every tick for hours: nothing may leak per call.
func TestDescribeLeaksNoDescriptors(t *testing.T) {
	e := newEnv(t)
	d := e.driver(e.options("web"))
	e.pool(d, "v1", 2)
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	describe(t, d)
	before := fds()
	for range 300 {
		describe(t, d)
	}
	if after := fds(); after > before+2 {
		t.Errorf("%d open descriptors after 300 Describe calls, %d before", after, before)
	}
}

// A Terraform provider process launches nodes and exits. The nodes keep
// running, a later process finds them, and the wrapper shell, now an
// orphan, still records how a node died.
func TestNodesOutliveLauncherProcess(t *testing.T) {
	e := newEnv(t)
	o := e.options("web")
	spec, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), launcherEnv+"="+string(spec))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("launcher process: %v\n%s", err, out)
	}
	d := e.driver(o)
	p := waitFor(t, d, "the node launched by the exited process to run", func(p rollout.Pool) bool {
		return count(p, rollout.NodeRunning) == 1
	})
	if status, _ := get(t, p.Nodes[0], "/healthz"); status != 200 {
		t.Fatalf("node launched by an exited process answers %d", status)
	}
	r := record(t, d, p.Nodes[0].ID)
	if st, err := readProcStat(r.PID); err != nil || st.pgrp != r.PID {
		t.Fatalf("wrapper %d: %+v %v, want a live session leader", r.PID, st, err)
	}
	if err := syscall.Kill(appPID(t, r), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p = waitFor(t, d, "the node to fail", func(p rollout.Pool) bool { return count(p, rollout.NodeFailed) == 1 })
	if got := p.Nodes[0].Detail; !strings.HasPrefix(got, "killed by signal KILL (status 137)") {
		t.Errorf("detail %q, want the status the orphaned wrapper recorded", got)
	}
}

func TestRelativeCommandUsesWorkDir(t *testing.T) {
	e := newEnv(t)
	o := e.options("web")
	o.WorkDir = filepath.Dir(appBin)
	o.Command[0] = "./" + filepath.Base(appBin)
	d := e.driver(o)
	_, p := e.pool(d, "v1", 1)
	if status, _ := get(t, p.Nodes[0], "/healthz"); status != 200 {
		t.Errorf("node started as %s in %s answers %d", o.Command[0], o.WorkDir, status)
	}
}
