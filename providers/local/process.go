package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// wrapper runs the node's argv ("$@") and records its exit status in the
// file named by $0. The shell stays the session leader, so the status is
// written whoever reaps the shell later; a signal's death is 128+signal.
const wrapper = `"$@"; echo $? > "$0"`

// launch starts one node of template tplID under the lock and records it.
// used holds the addresses of every recorded node; launch adds its own.
func (d *Driver) launch(s *state, tplID string, tr templateRecord, used map[netip.Addr]bool) (*nodeRecord, error) {
	id, err := d.newNodeID(s)
	if err != nil {
		return nil, err
	}
	if tr.Port == 0 {
		tr.Port = d.o.Port
	}
	addr, err := d.allocAddress(used, tr.Port)
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(tr.Port)
	expand := strings.NewReplacer(
		"{{image}}", tr.Image,
		"{{machine_type}}", tr.MachineType,
		"{{address}}", addr.String(),
		"{{port}}", port,
		"{{node_id}}", id,
		"{{pool}}", d.o.Pool,
	).Replace
	argv := make([]string, len(tr.Argv))
	for i, a := range tr.Argv {
		argv[i] = expand(a)
	}
	env := append(os.Environ(),
		"NODEROLL_NODE_ID="+id,
		"NODEROLL_POOL="+d.o.Pool,
		"NODEROLL_ADDRESS="+addr.String(),
		"NODEROLL_PORT="+port,
		"NODEROLL_IMAGE="+tr.Image,
		"NODEROLL_MACHINE_TYPE="+tr.MachineType,
	)
	for k, v := range tr.Env {
		env = append(env, k+"="+expand(v))
	}
	exitPath := s.nodePath(id, ".exit")
	if err := os.Remove(exitPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, d.errorf("launch %s: %w", id, err)
	}
	logf, err := os.OpenFile(d.LogPath(id), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, d.errorf("launch %s: log file: %w", id, err)
	}
	defer logf.Close() // the child holds its own descriptor
	cmd := exec.Command("/bin/sh", append([]string{"-c", wrapper, exitPath}, argv...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = env
	cmd.Dir = d.o.WorkDir
	cmd.SysProcAttr = detached()
	created := time.Now().UTC()
	if err := cmd.Start(); err != nil {
		return nil, d.errorf("launch %s: %w", id, err)
	}
	pid := cmd.Process.Pid
	// The child cannot be reaped before Wait, so its /proc entry is there.
	st, err := readProcStat(pid)
	// Reap the shell when it exits while this process lives: an unreaped
	// zombie would linger, and nothing else will wait for it.
	go func() { _ = cmd.Wait() }()
	if err != nil {
		_ = signalGroup(pid, syscall.SIGKILL)
		return nil, d.errorf("launch %s: %w", id, err)
	}
	r := &nodeRecord{
		ID: id, PID: pid, StartTime: st.startTime, BootID: d.bootID,
		Address: addr.String(), Port: tr.Port, Template: tplID,
		CreatedAt: created, State: recordRunning,
	}
	if err := s.writeNode(r); err != nil {
		// An unrecorded process would run forever unseen.
		_ = signalGroup(pid, syscall.SIGKILL)
		return nil, d.errorf("launch %s: %w", id, err)
	}
	used[addr] = true
	return r, nil
}

func (d *Driver) newNodeID(s *state) (string, error) {
	for range 16 {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", d.errorf("node id: %w", err)
		}
		id := d.o.Pool + "-" + hex.EncodeToString(b[:])
		if _, taken := s.nodes[id]; !taken {
			return id, nil
		}
	}
	return "", d.errorf("no unused node id after 16 tries")
}

// maxBindProbes bounds the addresses tried by binding: when something holds
// the port on every address (a listener on 0.0.0.0), fail fast.
const maxBindProbes = 256

// allocAddress picks a loopback address of Options.Network that no recorded
// node holds and where port is free. The search starts at an offset
// derived from the state directory and pool, so pools of other state
// directories (other tests, other users) start elsewhere in the network and
// rarely meet; the bind check catches the rest, except a node of another
// pool that is still booting.
func (d *Driver) allocAddress(used map[netip.Addr]bool, port int) (netip.Addr, error) {
	hosts := uint64(1) << (32 - d.network.Bits())
	h := fnv.New64a()
	io.WriteString(h, d.o.StateDir+"\x00"+d.o.Pool)
	start := h.Sum64() % hosts
	b4 := d.network.Addr().As4()
	base := uint64(binary.BigEndian.Uint32(b4[:]))
	probes := 0
	var lastErr error
	for i := uint64(0); i < hosts && probes < maxBindProbes; i++ {
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], uint32(base+(start+i)%hosts))
		if a[3] == 0 || a[3] == 255 { // keep clear of addresses that look like network or broadcast
			continue
		}
		addr := netip.AddrFrom4(a)
		if used[addr] {
			continue
		}
		probes++
		ln, err := net.Listen("tcp", netip.AddrPortFrom(addr, uint16(port)).String())
		if err != nil {
			lastErr = err
			continue
		}
		ln.Close()
		return addr, nil
	}
	if lastErr != nil {
		return netip.Addr{}, d.errorf("%w in %s for port %d (last: %v)", ErrNoAddress, d.network, port, lastErr)
	}
	return netip.Addr{}, d.errorf("%w in %s: all %d addresses are held by nodes", ErrNoAddress, d.network, hosts)
}

// alive reports whether r's process, or what it started, still runs. The
// recorded start time and boot ID tell r's process from a later one that
// got the same pid.
func (d *Driver) alive(r *nodeRecord) (bool, error) {
	if r.PID <= 0 || r.BootID != d.bootID {
		return false, nil
	}
	st, err := readProcStat(r.PID)
	if err == nil {
		if st.startTime != r.StartTime {
			// The pid was reused, so it was free: the node's group (whose ID
			// is that pid) was empty, since Linux keeps a pid in use while a
			// group carries its number.
			return false, nil
		}
		if st.state != 'Z' && st.state != 'X' {
			return true, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ESRCH) {
		// ESRCH: the process exited while its stat file was being read.
		return false, d.errorf("node %s: %w", r.ID, err)
	}
	// The shell is gone or a zombie; the command it ran may outlive it.
	n, err := groupMembers(r.PID)
	if err != nil {
		return false, d.errorf("node %s: %w", r.ID, err)
	}
	return n > 0, nil
}

// stop ends r's process group: SIGTERM, up to StopTimeout for a graceful
// exit, then SIGKILL. It returns when the group is gone, ctx is done, or
// the group survived SIGKILL for killWait (a process stuck in the kernel).
func (d *Driver) stop(ctx context.Context, r *nodeRecord) error {
	if up, err := d.alive(r); err != nil || !up {
		return err
	}
	if err := signalGroup(r.PID, syscall.SIGTERM); err != nil {
		return d.errorf("stop %s: %w", r.ID, err)
	}
	gone, err := d.waitGone(ctx, r, d.o.StopTimeout)
	if gone || err != nil {
		return err
	}
	if err := signalGroup(r.PID, syscall.SIGKILL); err != nil {
		return d.errorf("stop %s: %w", r.ID, err)
	}
	gone, err = d.waitGone(ctx, r, killWait)
	if err != nil {
		return err
	}
	if !gone {
		return d.errorf("stop %s: process group %d still alive %v after SIGKILL", r.ID, r.PID, killWait)
	}
	return nil
}

const killWait = 5 * time.Second

func (d *Driver) waitGone(ctx context.Context, r *nodeRecord, limit time.Duration) (bool, error) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		up, err := d.alive(r)
		if err != nil {
			return false, err
		}
		if !up {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, d.errorf("stop %s: %w", r.ID, ctx.Err())
		case <-timer.C:
			return false, nil
		case <-tick.C:
		}
	}
}

// exitDetail describes how a dead node ended, in the words of its exit
// status and the last line it logged.
func (d *Driver) exitDetail(s *state, id string) string {
	var detail string
	b, err := os.ReadFile(s.nodePath(id, ".exit"))
	code, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	switch {
	case err != nil || perr != nil:
		detail = "exited (status not recorded: its shell was killed)"
	case code > 128 && code < 128+65:
		detail = fmt.Sprintf("killed by signal %s (status %d)", signalName(syscall.Signal(code-128)), code)
	default:
		detail = fmt.Sprintf("exited with status %d", code)
	}
	if line := lastLine(d.LogPath(id)); line != "" {
		detail += ": " + line
	}
	return detail
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGKILL:
		return "KILL"
	case syscall.SIGTERM:
		return "TERM"
	case syscall.SIGSEGV:
		return "SEGV"
	case syscall.SIGABRT:
		return "ABRT"
	case syscall.SIGINT:
		return "INT"
	}
	return strconv.Itoa(int(s))
}

// lastLine returns the last non-empty line of the file's final 4 KiB,
// shortened to 200 bytes: enough to say why a node died.
func lastLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const tail = 4096
	if fi, err := f.Stat(); err == nil && fi.Size() > tail {
		if _, err := f.Seek(fi.Size()-tail, io.SeekStart); err != nil {
			return ""
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(b, "\r\n\t "), []byte("\n"))
	line := strings.TrimSpace(string(lines[len(lines)-1]))
	if len(line) > 200 {
		line = line[:200] + "..."
	}
	return line
}

// listening reports whether something accepts TCP connections at addr:port.
func listening(ctx context.Context, addr, port string) bool {
	dctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	var dialer net.Dialer
	c, err := dialer.DialContext(dctx, "tcp", net.JoinHostPort(addr, port))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// removeAll deletes the pool's directory.
func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", filepath.Base(dir), err)
	}
	return nil
}
