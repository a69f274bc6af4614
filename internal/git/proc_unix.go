//go:build unix

package git

import (
	"os/exec"
	"syscall"
)

// killGroup makes cmd lead a process group of its own and, when its context
// ends, kills the whole group: git runs helpers (git-remote-https,
// upload-pack, ssh) that would otherwise outlive it and hold its pipes open.
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
