//go:build !unix

package procgroup

import (
	"os"
	"os/exec"
)

// Own does nothing where there are no process groups.
func Own(*exec.Cmd) {}

// Signal sends sig to cmd; where cmd cannot take it (Windows takes only
// os.Kill), cmd is killed.
func Signal(cmd *exec.Cmd, sig os.Signal) {
	if cmd.Process == nil {
		return
	}
	if cmd.Process.Signal(sig) != nil {
		_ = cmd.Process.Kill()
	}
}

// Kill kills cmd.
func Kill(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
