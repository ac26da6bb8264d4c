//go:build unix

package procgroup

import (
	"os"
	"os/exec"
	"syscall"
)

// Own makes cmd, once started, the leader of a process group of its own:
// a terminal's Ctrl-C then reaches the caller alone, and Signal and Kill
// reach whatever cmd started too. Call it before cmd.Start.
func Own(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}

// Signal sends sig to cmd's process group; where that fails (cmd is not a
// group leader, or sig is not a syscall.Signal), to cmd alone, and where
// cmd cannot take sig, it is killed.
func Signal(cmd *exec.Cmd, sig os.Signal) {
	if cmd.Process == nil {
		return
	}
	if s, ok := sig.(syscall.Signal); ok && cmd.SysProcAttr != nil && cmd.SysProcAttr.Setpgid {
		if syscall.Kill(-cmd.Process.Pid, s) == nil {
			return
		}
	}
	if cmd.Process.Signal(sig) != nil {
		_ = cmd.Process.Kill()
	}
}

// Kill kills cmd's process group and cmd.
func Kill(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}
