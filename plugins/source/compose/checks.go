package compose

import (
	"fmt"
	"maps"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tinyforge/tinyforge/internal/docker"
)

// Label prefixes a compose file may not set: they are TinyForge's and
// Compose's record of what runs.
const (
	composeLabelPrefix   = "com.docker.compose."
	tinyforgeLabelPrefix = "tinyforge.dev/"
)

// Dependency conditions of depends_on.
const (
	conditionStarted   = types.ServiceConditionStarted
	conditionHealthy   = types.ServiceConditionHealthy
	conditionCompleted = types.ServiceConditionCompletedSuccessfully
)

// checkProject checks the values of a loaded project that the Docker
// Engine API 1.41, or TinyForge, cannot honour, service by service.
func checkProject(p *types.Project, set *settings) []problem {
	var problems []problem
	add := func(at, format string, args ...any) {
		problems = append(problems, problem{path: at, msg: fmt.Sprintf(format, args...)})
	}
	if len(p.Services) == 0 {
		add("services", "no service is enabled (profiles %q)", set.Profiles)
	}
	if len(p.Name) > maxProjectLength {
		add("name", "the project name is longer than %d characters", maxProjectLength)
	}
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		s := p.Services[name]
		at := "services." + name
		if s.Image == "" {
			add(at+".image", "required: TinyForge runs images and does not build them")
		}
		for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
			if reservedLabel(k) {
				add(at+".labels."+k, "label keys under %s, %s and %s are reserved", composeLabelPrefix, tinyforgeLabelPrefix, docker.LabelManagedBy)
			}
		}
		if s.Command != nil && len(s.Command) == 0 && s.Entrypoint == nil {
			add(at+".command", "an empty command is not supported: leave command out to run the image's")
		}
		if _, _, err := restartPolicy(s.Restart); err != nil {
			add(at+".restart", "%v", err)
		}
		if s.NetworkMode == "none" && len(s.Ports) > 0 {
			add(at+".ports", "a service with network_mode none publishes no ports")
		}
		for i, port := range s.Ports {
			problems = append(problems, checkPort(fmt.Sprintf("%s.ports[%d]", at, i), port)...)
		}
		for i, v := range s.Volumes {
			problems = append(problems, checkVolume(fmt.Sprintf("%s.volumes[%d]", at, i), v, p)...)
		}
		for _, dep := range slices.Sorted(maps.Keys(s.DependsOn)) {
			switch d := s.DependsOn[dep]; d.Condition {
			case conditionStarted, conditionHealthy:
			case conditionCompleted:
				// Docker would start it again after it completes.
				if job, ok := p.Services[dep]; ok && !oneShot(job.Restart) {
					add("services."+dep+".restart", "%q: service %s waits for it to complete (service_completed_successfully), so it must not restart (no or on-failure)",
						job.Restart, name)
				}
			default:
				add(at+".depends_on."+dep+".condition", "%q is not a condition (service_started, service_healthy, service_completed_successfully)", d.Condition)
			}
		}
	}
	if _, err := serviceOrder(p); err != nil {
		add("services", "%v", err)
	}
	for _, key := range slices.Sorted(maps.Keys(p.Networks)) {
		for _, k := range slices.Sorted(maps.Keys(p.Networks[key].Labels)) {
			if reservedLabel(k) {
				add("networks."+key+".labels."+k, "label keys under %s and %s are reserved", composeLabelPrefix, tinyforgeLabelPrefix)
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(p.Volumes)) {
		for _, k := range slices.Sorted(maps.Keys(p.Volumes[key].Labels)) {
			if reservedLabel(k) {
				add("volumes."+key+".labels."+k, "label keys under %s and %s are reserved", composeLabelPrefix, tinyforgeLabelPrefix)
			}
		}
	}
	return problems
}

func reservedLabel(k string) bool {
	return strings.HasPrefix(k, composeLabelPrefix) || strings.HasPrefix(k, tinyforgeLabelPrefix) || k == docker.LabelManagedBy
}

func checkPort(at string, p types.ServicePortConfig) []problem {
	var problems []problem
	if p.Target < 1 || p.Target > 65535 {
		problems = append(problems, problem{at + ".target", fmt.Sprintf("%d is not a port from 1 to 65535", p.Target)})
	}
	if p.Published != "" {
		if n, err := strconv.Atoi(p.Published); err != nil || n < 1 || n > 65535 {
			problems = append(problems, problem{at + ".published", fmt.Sprintf("%q is not supported: publish one port from 1 to 65535, or none for a random one", p.Published)})
		}
	}
	if p.HostIP != "" && net.ParseIP(p.HostIP) == nil {
		problems = append(problems, problem{at + ".host_ip", fmt.Sprintf("%q is not an IP address", p.HostIP)})
	}
	switch p.Protocol {
	case "", "tcp", "udp":
	default:
		problems = append(problems, problem{at + ".protocol", fmt.Sprintf("%q is not supported (tcp or udp)", p.Protocol)})
	}
	return problems
}

func checkVolume(at string, v types.ServiceVolumeConfig, p *types.Project) []problem {
	var problems []problem
	if !path.IsAbs(v.Target) {
		problems = append(problems, problem{at + ".target", fmt.Sprintf("%q is not an absolute path", v.Target)})
	}
	switch v.Type {
	case types.VolumeTypeVolume:
		if v.Source == "" {
			problems = append(problems, problem{at, "anonymous volumes are not supported: name the volume and declare it under volumes, so it outlives a recreate"})
		} else if _, ok := p.Volumes[v.Source]; !ok {
			problems = append(problems, problem{at + ".source", fmt.Sprintf("volume %q is not declared under volumes", v.Source)})
		}
	case types.VolumeTypeBind:
		if !path.IsAbs(v.Source) {
			problems = append(problems, problem{at + ".source", fmt.Sprintf("%q: bind mounts need an absolute host path (the compose file has no directory on the Docker host)", v.Source)})
		}
	case types.VolumeTypeTmpfs:
	default:
		problems = append(problems, problem{at + ".type", fmt.Sprintf("%q is not supported (volume, bind or tmpfs)", v.Type)})
	}
	return problems
}

// restartPolicy parses a compose restart value: no (default), always,
// unless-stopped, on-failure or on-failure:N.
func restartPolicy(s string) (name string, retries int, err error) {
	switch s {
	case "", types.RestartPolicyNo:
		return types.RestartPolicyNo, 0, nil
	case types.RestartPolicyAlways, types.RestartPolicyUnlessStopped, types.RestartPolicyOnFailure:
		return s, 0, nil
	}
	if n, ok := strings.CutPrefix(s, types.RestartPolicyOnFailure+":"); ok {
		if r, err := strconv.Atoi(n); err == nil && r >= 0 {
			return types.RestartPolicyOnFailure, r, nil
		}
	}
	return "", 0, fmt.Errorf("%q is not a restart policy (no, always, unless-stopped, on-failure[:max-retries])", s)
}

// serviceOrder returns the enabled services so that each comes after those
// it depends on, ties broken by name. A dependency on a service that is not
// enabled is an error unless it is marked required: false.
func serviceOrder(p *types.Project) ([]string, error) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var order []string
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("dependency cycle: %s", strings.Join(append(chain, name), " -> "))
		}
		state[name] = visiting
		s := p.Services[name]
		for _, dep := range slices.Sorted(maps.Keys(s.DependsOn)) {
			if _, ok := p.Services[dep]; !ok {
				if s.DependsOn[dep].Required {
					return fmt.Errorf("service %s depends on %s, which is not defined or not enabled by the profiles", name, dep)
				}
				continue
			}
			if err := visit(dep, append(chain, name)); err != nil {
				return err
			}
		}
		state[name] = done
		order = append(order, name)
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		if err := visit(name, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}
