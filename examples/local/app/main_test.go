package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var appBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "noderoll-app-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	appBin = filepath.Join(dir, "app")
	if out, err := exec.Command("go", "build", "-o", appBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build app: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running app whose log lines arrive on lines.
type proc struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
	err   error // exit error, valid after done
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(appBin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 64), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

// waitLine returns the first log line matching re.
func (p *proc) waitLine(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("app exited before logging %v", re)
			}
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-timeout:
			t.Fatalf("app did not log %v", re)
		}
	}
}

var listening = regexp.MustCompile(`listening .* on (\S+)$`)

func (p *proc) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("app did not exit")
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestHealthByVersion(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		status int
		body   string
	}{
		{[]string{"--version", "v1"}, 200, "ok version=v1\n"},
		{[]string{"--version", "v2"}, 200, "ok version=v2\n"},
		{[]string{"--version", "v3"}, 500, "dependency check failed version=v3\n"},
		{[]string{"--version", "v2", "--fail-health"}, 500, "dependency check failed version=v2\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			p := start(t, append([]string{"--listen", "127.0.0.1:0", "--node-id", "n1"}, tc.args...)...)
			addr := p.waitLine(t, listening)[1]
			status, body := get(t, "http://"+addr+"/healthz")
			if status != tc.status || body != tc.body {
				t.Errorf("GET /healthz = %d %q, want %d %q", status, body, tc.status, tc.body)
			}
			status, body = get(t, "http://"+addr+"/")
			if status != 200 || !strings.Contains(body, "version "+tc.args[1]) || !strings.Contains(body, "node n1") {
				t.Errorf("GET / = %d %q, want 200 naming version and node", status, body)
			}
		})
	}
}

func TestCrashOnStart(t *testing.T) {
	for _, args := range [][]string{{"--version", "v3-crash"}, {"--version", "v2", "--crash-on-start"}} {
		p := start(t, append([]string{"--listen", "127.0.0.1:0"}, args...)...)
		if code := p.exitCode(t); code != 1 {
			t.Errorf("%v: exit status %d, want 1", args, code)
		}
	}
}

func TestBadFlagsExit2(t *testing.T) {
	p := start(t, "--no-such-flag")
	if code := p.exitCode(t); code != 2 {
		t.Errorf("exit status %d, want 2", code)
	}
}

// SIGTERM lets an in-flight request finish, then the app exits 0.
func TestGracefulStop(t *testing.T) {
	p := start(t, "--listen", "127.0.0.1:0", "--version", "v2")
	addr := p.waitLine(t, listening)[1]
	type result struct {
		status int
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/?delay=1s")
		if err != nil {
			res <- result{err: err}
			return
		}
		resp.Body.Close()
		res <- result{status: resp.StatusCode}
	}()
	// Wait until the request is being served: the delay handler holds it.
	deadline := time.Now().Add(5 * time.Second)
	for !connected(t, p.cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatal("request never reached the app")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.err != nil || r.status != 200 {
		t.Errorf("in-flight request: %d %v, want 200", r.status, r.err)
	}
	if code := p.exitCode(t); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}

// connected reports whether pid holds an established TCP connection: two
// socket descriptors (listener and accepted connection).
func connected(t *testing.T, pid int) bool {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		if err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n >= 2
}

func TestIgnoreSIGTERM(t *testing.T) {
	p := start(t, "--listen", "127.0.0.1:0", "--ignore-sigterm")
	p.waitLine(t, listening)
	// The kernel's ignored-signal mask says SIGTERM (bit 15) is ignored.
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^SigIgn:\s*([0-9a-f]+)$`).FindSubmatch(status)
	if m == nil {
		t.Fatalf("no SigIgn in /proc status:\n%s", status)
	}
	var mask uint64
	if _, err := fmt.Sscanf(string(m[1]), "%x", &mask); err != nil {
		t.Fatal(err)
	}
	if mask&(1<<(uint(syscall.SIGTERM)-1)) == 0 {
		t.Errorf("SigIgn %s does not include SIGTERM", m[1])
	}
	// SIGINT still stops it gracefully.
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.exitCode(t); code != 0 {
		t.Errorf("exit status after SIGINT %d, want 0", code)
	}
}

// A slow start does not listen until it is over; SIGTERM during it is graceful.
func TestSlowStart(t *testing.T) {
	p := start(t, "--listen", "127.0.0.1:0", "--slow-start", "1h")
	p.waitLine(t, regexp.MustCompile(`^.*start node=`))
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitLine(t, regexp.MustCompile(`during boot`))
	if code := p.exitCode(t); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}
