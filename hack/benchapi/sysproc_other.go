//go:build !linux

package main

import (
	"syscall"
	"time"
)

// benchapi reads /proc and so measures on Linux only; elsewhere it builds,
// and these stand-ins keep it compiling.

func sysProcAttr() *syscall.SysProcAttr { return nil }

func selfCPU() time.Duration { return 0 }
