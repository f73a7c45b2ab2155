//go:build linux

package drain

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

func mustCommand(t *testing.T, o CommandOptions) *Command {
	t.Helper()
	c, err := NewCommand(o)
	if err != nil {
		t.Fatalf("NewCommand: %v", err)
	}
	return c
}

func TestCommand(t *testing.T) {
	tests := []struct {
		name string
		o    CommandOptions
		node rollout.Node
		want string // "" = success; otherwise the exact error
	}{
		{name: "exit 0 drains", o: CommandOptions{Argv: []string{"true"}}},
		{
			name: "failure names command, status and output",
			o:    CommandOptions{Argv: []string{"sh", "-c", "echo evicting; echo 'pdb web blocks eviction' >&2; exit 3"}},
			want: "drain command sh -c 'echo evicting; echo '\\''pdb web blocks eviction'\\'' >&2; exit 3' failed: exit status 3, output:\nevicting\npdb web blocks eviction",
		},
		{
			name: "failure without output",
			o:    CommandOptions{Argv: []string{"false"}},
			want: "drain command false failed: exit status 1, no output",
		},
		{
			name: "placeholders are substituted per argument, no shell",
			o: CommandOptions{
				Argv: []string{"sh", "-c", `printf '%s|' "$@" "$NODEROLL_NODE_ID" "$EXTRA"; exit 1`, "sh", "{{node_id}}", "{{address}}", "{{zone}}", "{{template}}", "id={{node_id}}@{{zone}}"},
				Env:  []string{"EXTRA=in-{{zone}}"},
			},
			node: rollout.Node{ID: "web 3; rm -rf /", Address: "10.0.0.5", Zone: "zone-a", Template: "tpl-7"},
			want: "drain command sh -c 'printf '\\''%s|'\\'' \"$@\" \"$NODEROLL_NODE_ID\" \"$EXTRA\"; exit 1' sh 'web 3; rm -rf /' 10.0.0.5 zone-a tpl-7 'id=web 3; rm -rf /@zone-a' failed: exit status 1, output:\n" +
				"web 3; rm -rf /|10.0.0.5|zone-a|tpl-7|id=web 3; rm -rf /@zone-a|web 3; rm -rf /|in-zone-a|",
		},
		{
			name: "missing program",
			o:    CommandOptions{Argv: []string{"/nonexistent/drain-it", "{{node_id}}"}},
			want: "drain command /nonexistent/drain-it web-3: fork/exec /nonexistent/drain-it: no such file or directory",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.node
			if n.ID == "" {
				n = node
			}
			err := mustCommand(t, tt.o).Drain(t.Context(), n)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want success", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Fatalf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestCommandOutputTail(t *testing.T) {
	// 10,000 lines of noise, then the line that explains the failure.
	c := mustCommand(t, CommandOptions{Argv: []string{"sh", "-c", `i=0; while [ $i -lt 10000 ]; do echo "noise $i"; i=$((i+1)); done; echo "fatal: node not found"; exit 2`}})
	err := c.Drain(t.Context(), node)
	if err == nil {
		t.Fatal("got success, want failure")
	}
	msg := err.Error()
	out := msg[strings.Index(msg, "output:\n")+len("output:\n"):]
	if !strings.HasSuffix(out, "noise 9999\nfatal: node not found") || !strings.HasPrefix(out, "...") {
		t.Errorf("output tail does not end with the failure: %q", out[max(0, len(out)-80):])
	}
	if len(out) > outputTail+3 || strings.Contains(out, "noise 0\n") {
		t.Errorf("output tail is %d bytes and has the start; want at most the last %d bytes", len(out), outputTail)
	}
}

// TestCommandKillsProcessGroup runs a shell that starts a background sleep
// and waits for it; cancelling the drain must kill the sleep too, not just
// the shell.
func TestCommandKillsProcessGroup(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pid")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	c := mustCommand(t, CommandOptions{Argv: []string{"sh", "-c", `echo "waiting for pod web-1 to be evicted"; sleep 1000 & echo $! > "$0"; wait`, fifo}})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Drain(ctx, node) }()

	pidc := make(chan int, 1)
	go func() {
		f, err := os.Open(fifo) // blocks until the shell opens it for writing
		if err != nil {
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		pidc <- pid
	}()
	var pid int
	select {
	case pid = <-pidc:
	case err := <-done:
		// Unblock the fifo reader before failing.
		if w, werr := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); werr == nil {
			w.Close()
		}
		t.Fatalf("drain ended before starting its child: %v", err)
	}
	if pid <= 1 {
		t.Fatalf("bad child pid %d", pid)
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open(%d): %v", pid, err)
	}
	t.Cleanup(func() {
		unix.Close(pidfd)
		syscall.Kill(pid, syscall.SIGKILL) // never leave the sleep behind, even on failure
	})

	cancel()
	err = <-done
	want := `drain command sh -c 'echo "waiting for pod web-1 to be evicted"; sleep 1000 & echo $! > "$0"; wait' ` + fifo + ` was killed (context canceled); last output: "waiting for pod web-1 to be evicted"`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(err, Canceled) = false")
	}
	// The pidfd turns readable when the sleep exits. 10s bounds a failure;
	// a killed group gets there at once.
	n, err := unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, 10_000)
	if err != nil || n != 1 {
		t.Fatalf("background child %d still running after the drain was cancelled (poll: %d, %v)", pid, n, err)
	}
}

func TestCommandWithTimeout(t *testing.T) {
	c := mustCommand(t, CommandOptions{Argv: []string{"sleep", "1000"}})
	err := WithTimeout(c, 100*time.Millisecond).Drain(t.Context(), node)
	want := "drain of node web-3 timed out after 100ms: drain command sleep 1000 was killed (context deadline exceeded); last output: (no output)"
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

func TestNewCommandValidation(t *testing.T) {
	tests := []struct {
		o    CommandOptions
		want string
	}{
		{CommandOptions{}, `command = [] is invalid: want the program and its arguments`},
		{CommandOptions{Argv: []string{""}}, `command = [""] is invalid`},
		{CommandOptions{Argv: []string{"kubectl", "drain", "{{nodeid}}"}}, `command = "{{nodeid}}" is invalid: unknown placeholder {{nodeid}}: want {{node_id}}, {{address}}, {{zone}} or {{template}}`},
		{CommandOptions{Argv: []string{"x"}, Env: []string{"NOEQUALS"}}, `env = "NOEQUALS" is invalid: want KEY=VALUE`},
		{CommandOptions{Argv: []string{"x"}, Env: []string{"A={{ zone }}"}}, `unknown placeholder {{ zone }}`},
	}
	for _, tt := range tests {
		_, err := NewCommand(tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewCommand(%+v) = %v, want an error containing %q", tt.o, err, tt.want)
		}
	}
}
