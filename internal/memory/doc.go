// Package memory keeps a long-running TinyForge process's resident memory
// close to what it uses.
//
// Go's background scavenger keeps about as much free heap as the last GC
// goal allowed, so a server that handled a burst of writes would stay at
// its burst-time footprint while it idles. ReleaseWhenIdle notices when the
// process has stopped allocating and then runs one full collection and
// scavenge (debug.FreeOSMemory), once per idle period.
//
// ReleaseFileHoles drops the pages of a mapped file's holes, which etcd's
// MAP_POPULATE mapping of its database makes resident at start.
package memory
