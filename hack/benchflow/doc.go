// Command benchflow measures TinyForge's data plane and triggers on this
// machine (deploys, blue-green switches, proxy throughput, the webhook
// ingress, registry pushes and fan-out) and prints each figure next to its
// target; run it through hack/bench-flow.sh.
package main
