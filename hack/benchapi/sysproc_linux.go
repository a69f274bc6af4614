package main

import "syscall"

// sysProcAttr has the kernel kill the server should benchapi die without
// cleaning up, so no server outlives it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
