package docker

import (
	"maps"
	"slices"

	"github.com/docker/docker/api/types/network"
)

// ContainerIP returns the IPv4 address of a container on the first of its
// networks, in name order, that gave it one and that usable accepts (nil
// accepts every network); "" when there is none, as for a container with
// network mode host or none, or one that is not running.
//
// networks is the NetworkSettings.Networks of a container as listed or as
// inspected: both give the same answer, and the name order keeps it stable
// for a container on several networks, so a route re-set from it on every
// reconcile stays the same.
func ContainerIP(networks map[string]*network.EndpointSettings, usable func(name string) bool) string {
	for _, name := range slices.Sorted(maps.Keys(networks)) {
		ep := networks[name]
		if ep == nil || ep.IPAddress == "" || usable != nil && !usable(name) {
			continue
		}
		return ep.IPAddress
	}
	return ""
}
