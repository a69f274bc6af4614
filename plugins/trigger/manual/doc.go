// Package manual is the "manual" trigger plugin: it deploys a workload when a
// person asks for it (forgectl deploy), and on nothing else.
package manual
