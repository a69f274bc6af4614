package compose

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tinyforge/tinyforge/plugins"
)

// stack is a loaded compose project of a workload, ready to run: each
// service's settings and hash in dependency order, and, once its images are
// resolved, its revision.
type stack struct {
	w       plugins.Workload
	project *types.Project
	// order lists the enabled services, each after those it depends on.
	order    []string
	services map[string]*service
	// revision identifies the whole stack; set by setRevision.
	revision string
	// commit is the git commit the compose file was read from; empty for
	// an inline one.
	commit string
}

// service is one compose service of a stack.
type service struct {
	name string
	cfg  types.ServiceConfig
	// image is the resolved image; set before setRevision.
	image resolvedImage
	// hash is the com.docker.compose.config-hash: what the container runs
	// besides its image.
	hash string
	// routes are the workload routes that point at this service.
	routes []plugins.Route
	// probe is the container port of the HTTP health check, 0 for none.
	probe int32
	// loopback are container ports (TCP) the proxy or the probe reaches,
	// published on 127.0.0.1 whether or not the file publishes them: they
	// reach them there when the container has no address on a network
	// the host routes to, or with plugins.Deps.PublishedUpstreams.
	loopback []int32
	// job: another service waits for it to complete
	// (service_completed_successfully): it runs once per revision of its
	// own and is never rerun by Reconcile.
	job bool
	// stateful: it mounts a volume or a host path, which two containers
	// must not share.
	stateful bool
	// fixedPorts: it publishes a fixed host port, which two containers
	// cannot both bind.
	fixedPorts bool
}

// routed reports whether a workload route points at the service.
func (s *service) routed() bool { return len(s.routes) > 0 }

// mayComplete reports whether a container of s that exited with code 0 has
// done its work rather than stopped: a one-shot service (job), or one
// without a route whose restart policy (no, the default, or on-failure)
// lets it end. Neither Deploy nor Reconcile runs such a container again;
// a routed service's container that ended is recreated.
func (s *service) mayComplete() bool {
	return s.job || !s.routed() && oneShot(s.cfg.Restart)
}

// newStack works out the services of p for w: their order, routes and
// hashes. Images are resolved later (resolveImages or recordedImages).
func newStack(w plugins.Workload, p *types.Project) (*stack, error) {
	order, err := serviceOrder(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCompose, err)
	}
	st := &stack{w: w, project: p, order: order, services: map[string]*service{}}
	for _, name := range order {
		cfg := p.Services[name]
		s := &service{name: name, cfg: cfg}
		for _, v := range cfg.Volumes {
			if v.Type == types.VolumeTypeVolume || v.Type == types.VolumeTypeBind {
				s.stateful = true
			}
		}
		for _, port := range cfg.Ports {
			if port.Published != "" {
				s.fixedPorts = true
			}
		}
		st.services[name] = s
	}
	for _, name := range order {
		for dep, d := range p.Services[name].DependsOn {
			if d.Condition == conditionCompleted && st.services[dep] != nil {
				st.services[dep].job = true
			}
		}
	}
	if err := st.assignRoutes(); err != nil {
		return nil, err
	}
	for _, s := range st.services {
		s.hash = st.serviceHash(s)
	}
	return st, nil
}

// assignRoutes gives each route to its service. A route without a service
// goes to the only service of a one-service stack.
func (st *stack) assignRoutes() error {
	names := slices.Sorted(maps.Keys(st.services))
	for i, r := range st.w.Routes {
		name := r.Service
		if name == "" {
			if len(names) != 1 {
				return fmt.Errorf("route %s names no service: a compose workload with several services needs spec.routes[%d].service (one of %s)",
					r.Key(), i, strings.Join(names, ", "))
			}
			name = names[0]
		}
		s, ok := st.services[name]
		switch {
		case !ok:
			return fmt.Errorf("route %s points at service %q, which the compose file does not define or the profiles do not enable (services: %s)",
				r.Key(), name, strings.Join(names, ", "))
		case r.Port < 1 || r.Port > 65535:
			return fmt.Errorf("route %s: port %d is not a port from 1 to 65535", r.Key(), r.Port)
		case s.cfg.NetworkMode == "none":
			return fmt.Errorf("route %s points at service %s, which has network_mode none", r.Key(), name)
		}
		s.routes = append(s.routes, r)
		if !slices.Contains(s.loopback, r.Port) {
			s.loopback = append(s.loopback, r.Port)
		}
	}
	hc := st.w.HealthCheck
	if hc.Path == "" {
		return nil
	}
	for _, name := range st.order {
		s := st.services[name]
		if !s.routed() {
			continue
		}
		s.probe = s.routes[0].Port
		// The health check's own port belongs to the service of the first
		// route, which the API's default (the first route's port) names.
		if hc.Port != 0 && len(st.w.Routes) > 0 && st.serviceOf(st.w.Routes[0]) == name {
			s.probe = hc.Port
		}
		if !slices.Contains(s.loopback, s.probe) {
			s.loopback = append(s.loopback, s.probe)
		}
	}
	return nil
}

// serviceOf names the service a route points at.
func (st *stack) serviceOf(r plugins.Route) string {
	if r.Service != "" || len(st.services) != 1 {
		return r.Service
	}
	for name := range st.services {
		return name
	}
	return ""
}

// serviceHash is the hash of what a container of s runs besides its
// image: the service as loaded (interpolated, env resolved) without what
// only says where the image comes from, how many run, or in which order;
// the Docker names of its project, networks and volumes; and the ports
// published for routes.
func (st *stack) serviceHash(s *service) string {
	cfg := s.cfg
	cfg.Image, cfg.PullPolicy, cfg.Profiles, cfg.DependsOn, cfg.Scale = "", "", nil, nil, nil
	if cfg.Deploy != nil {
		d := *cfg.Deploy
		d.Replicas = nil
		cfg.Deploy = &d
	}
	nets := map[string]string{}
	for key := range cfg.Networks {
		nets[key] = st.project.Networks[key].Name
	}
	vols := map[string]string{}
	for _, v := range cfg.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Source != "" {
			vols[v.Source] = st.project.Volumes[v.Source].Name
		}
	}
	b, err := json.Marshal(struct {
		Project  string              `json:"project"`
		Service  types.ServiceConfig `json:"service"`
		Networks map[string]string   `json:"networks,omitempty"`
		Volumes  map[string]string   `json:"volumes,omitempty"`
		Loopback []int32             `json:"loopback,omitempty"`
	}{st.project.Name, cfg, nets, vols, slices.Sorted(slices.Values(s.loopback))})
	if err != nil {
		// A loaded project is plain data; hash what can be hashed.
		b = []byte(fmt.Sprintf("%s %#v %v", st.project.Name, cfg, err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// setRevision computes the stack's revision from the services' hashes and
// images and the project's networks and volumes.
func (st *stack) setRevision() {
	type svc struct {
		Name  string `json:"name"`
		Hash  string `json:"hash"`
		Image string `json:"image"`
	}
	var svcs []svc
	for _, name := range slices.Sorted(maps.Keys(st.services)) {
		s := st.services[name]
		svcs = append(svcs, svc{name, s.hash, s.image.id})
	}
	b, err := json.Marshal(struct {
		Project  string         `json:"project"`
		Services []svc          `json:"services"`
		Networks types.Networks `json:"networks,omitempty"`
		Volumes  types.Volumes  `json:"volumes,omitempty"`
	}{st.project.Name, svcs, st.project.Networks, st.project.Volumes})
	if err != nil {
		b = []byte(fmt.Sprintf("%v %v", svcs, err))
	}
	sum := sha256.Sum256(b)
	st.revision = hex.EncodeToString(sum[:])[:revisionLength]
	if len(st.commit) >= revisionCommitLength {
		// A git stack's revision names its commit, so a rollback, or a
		// repair after every container is gone, reads the same file.
		st.revision = st.commit[:revisionCommitLength] + "-" + st.revision
	}
}

// revisionLength is how many hex digits of the stack's hash its revision
// keeps: enough to tell revisions apart, short enough to read. A git
// stack's revision is <commit[:12]>-<hash>.
const revisionLength = 16

// dependencies returns the services s waits for before it starts, with
// their conditions, in order; those not enabled (required: false) are left
// out.
func (st *stack) dependencies(s *service) []dependency {
	var deps []dependency
	for _, name := range slices.Sorted(maps.Keys(s.cfg.DependsOn)) {
		if d, ok := st.services[name]; ok {
			deps = append(deps, dependency{service: d, condition: s.cfg.DependsOn[name].Condition})
		}
	}
	return deps
}

// dependency is one depends_on entry of a service.
type dependency struct {
	service   *service
	condition string
}

// dependsOnLabel is the com.docker.compose.depends_on value of s:
// name:condition:restart, comma-separated, as Compose writes it.
func dependsOnLabel(s *service) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(s.cfg.DependsOn)) {
		d := s.cfg.DependsOn[name]
		parts = append(parts, name+":"+d.Condition+":"+strconv.FormatBool(d.Restart))
	}
	return strings.Join(parts, ",")
}

// blueGreen reports whether a new container of s starts beside the old
// one, which keeps serving until the new one is healthy: for routed
// services that hold no volume and bind no fixed host port, under the
// BlueGreen strategy. Other services are recreated in place.
func (st *stack) blueGreen(s *service) bool {
	return s.routed() && !s.stateful && !s.fixedPorts && !s.job && st.w.Strategy.Type != plugins.StrategyRecreate
}
