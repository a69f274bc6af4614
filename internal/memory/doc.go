// Package memory returns the heap a long-running TinyForge process no longer
// uses to the operating system once the process goes idle.
//
// Go's background scavenger keeps about as much free heap as the last GC
// goal allowed, so a server that handled a burst of writes would stay at
// its burst-time footprint while it idles. ReleaseWhenIdle notices when the
// process has stopped allocating and then runs one full collection and
// scavenge (debug.FreeOSMemory), once per idle period.
package memory
