//go:build !linux

package main

import "syscall"

// sysProcAttr asks for nothing special where there is no parent-death signal.
func sysProcAttr() *syscall.SysProcAttr { return nil }
