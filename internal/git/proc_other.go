//go:build !unix

package git

import "os/exec"

// killGroup leaves the default cancellation (killing git alone) in place;
// cmd.WaitDelay bounds the wait for helpers it leaves behind.
func killGroup(*exec.Cmd) {}
