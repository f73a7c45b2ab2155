//go:build unix

package drain

import (
	"os/exec"
	"syscall"
)

// killGroupOnCancel starts cmd as the leader of a new process group and,
// when its context ends, SIGKILLs the whole group: killing only the leader
// would leave its children (a shell's background jobs, kubectl) running and
// holding the output pipe. SIGKILL, not SIGTERM: the drain's time is up and
// the engine must move on; a command that wants to clean up should bound
// itself below the drain timeout.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
