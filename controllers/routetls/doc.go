// Package routetls loads the certificates that Workload routes name in
// tls.secretName into this process's proxy, on every replica, and takes them
// out again when no route wants them.
package routetls
