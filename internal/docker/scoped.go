package docker

import (
	"context"
	"maps"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// LabelCluster names the TinyForge cluster that made a container, volume or
// network, so clusters (and test runs) sharing one Docker daemon never touch
// each other's objects.
const LabelCluster = "tinyforge.dev/cluster"

// Scoped returns an API that labels every container, volume and network it
// creates with the cluster, and whose lists and events see only the
// cluster's own. Plugins get a scoped API and need not know about it.
func Scoped(api API, cluster string) API {
	return &scoped{API: api, cluster: cluster}
}

type scoped struct {
	API
	cluster string
}

func (s *scoped) filter(f filters.Args) filters.Args {
	f = f.Clone()
	f.Add("label", LabelCluster+"="+s.cluster)
	return f
}

func (s *scoped) labels(l map[string]string) map[string]string {
	out := maps.Clone(l)
	if out == nil {
		out = map[string]string{}
	}
	out[LabelCluster] = s.cluster
	return out
}

func (s *scoped) ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error) {
	c := *config
	c.Labels = s.labels(config.Labels)
	return s.API.ContainerCreate(ctx, &c, hostConfig, networkingConfig, platform, containerName)
}

func (s *scoped) ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error) {
	options.Filters = s.filter(options.Filters)
	return s.API.ContainerList(ctx, options)
}

func (s *scoped) NetworkCreate(ctx context.Context, name string, options network.CreateOptions) (network.CreateResponse, error) {
	options.Labels = s.labels(options.Labels)
	return s.API.NetworkCreate(ctx, name, options)
}

func (s *scoped) NetworkList(ctx context.Context, options network.ListOptions) ([]network.Summary, error) {
	options.Filters = s.filter(options.Filters)
	return s.API.NetworkList(ctx, options)
}

func (s *scoped) VolumeCreate(ctx context.Context, options volume.CreateOptions) (volume.Volume, error) {
	options.Labels = s.labels(options.Labels)
	return s.API.VolumeCreate(ctx, options)
}

func (s *scoped) VolumeList(ctx context.Context, options volume.ListOptions) (volume.ListResponse, error) {
	options.Filters = s.filter(options.Filters)
	return s.API.VolumeList(ctx, options)
}

func (s *scoped) Events(ctx context.Context, options events.ListOptions) (<-chan events.Message, <-chan error) {
	options.Filters = s.filter(options.Filters)
	return s.API.Events(ctx, options)
}
