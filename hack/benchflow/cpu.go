package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat; Linux fixes it
// at 100 for user space whatever the kernel's own tick rate.
const userHZ = 100

// cpuSample is the CPU time the server and benchflow had used, and the
// machine's busy and total ticks, at one moment.
type cpuSample struct {
	at                time.Time
	server, self      time.Duration
	busyTicks, ticks  int64
	serverOK, machine bool
}

// sampleCPU reads the counters; what cannot be read is marked missing.
func (b *bench) sampleCPU() cpuSample {
	s := cpuSample{at: time.Now(), self: selfCPU()}
	if b.srv != nil {
		s.server, s.serverOK = procCPU(b.srv.cmd.Process.Pid)
	}
	s.busyTicks, s.ticks, s.machine = machineTicks()
	return s
}

// cpuSince formats the cores the server and benchflow kept busy since
// then, the server's CPU time per op for ops ops, and how busy the whole
// machine was.
func (s cpuSample) cpuSince(then cpuSample, ops int, op string) string {
	wall := s.at.Sub(then.at).Seconds()
	if wall <= 0 {
		return "n/a"
	}
	server, perOp := "?", ""
	if s.serverOK && then.serverOK {
		used := s.server - then.server
		server = fmt.Sprintf("%.2f", used.Seconds()/wall)
		if ops > 0 {
			perOp = fmt.Sprintf(" (server %s per %s)", fmtDur(used/time.Duration(ops)), op)
		}
	}
	out := fmt.Sprintf("%s / %.2f cores%s", server, (s.self-then.self).Seconds()/wall, perOp)
	if s.machine && then.machine && s.ticks > then.ticks {
		out += fmt.Sprintf(", machine %.0f%% of %d CPUs busy", 100*float64(s.busyTicks-then.busyTicks)/float64(s.ticks-then.ticks), runtime.NumCPU())
	}
	return out
}

// procCPU is the user plus system CPU time process pid has used.
func procCPU(pid int) (time.Duration, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may hold spaces: count from after it.
	_, rest, ok := strings.Cut(string(data), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, false
	}
	var ticks int64
	for _, field := range f[11:13] { // utime and stime, fields 14 and 15
		n, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, true
}

// selfCPU is the CPU time benchflow has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineTicks reads the busy and total ticks of all CPUs from /proc/stat.
func machineTicks() (busy, total int64, ok bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, false
	}
	for i, v := range f[1:9] { // user nice system idle iowait irq softirq steal
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total += n
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return busy, total, true
}
