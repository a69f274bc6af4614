// Package health owns what the container source plugins (image, compose,
// and static through image) share to decide whether a container they
// started is healthy: the reasons a wait fails, the progress deadline, the
// workload's health check with its defaults, Docker's HEALTHCHECK status,
// the HTTP prober, and the exit error quoting the container's last log
// lines.
package health
