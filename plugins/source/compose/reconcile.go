package compose

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tinyforge/tinyforge/plugins"
	"github.com/tinyforge/tinyforge/plugins/source/internal/health"
)

// Reconcile keeps the deployed revision of the stack running and routed.
//
// It loads the stack from the spec, with each service's image taken from
// its container where there is one (Reconcile never pulls), and repairs
// only when that is the deployed revision (w.CurrentRevision): a spec
// changed since is the next deploy's to apply. Then a long-running service
// whose container crashed for good, exited or was removed gets a new one,
// after its dependencies' conditions hold; a one-shot service is never run
// again (a deploy does that), and a failed one is reported; a container
// Docker is restarting is left to Docker. Leftover containers (of services
// gone from the file, or extra ones of a service) are removed. The routes
// are published again in every case: the proxy's table lives in memory.
func (s *Source) Reconcile(ctx context.Context, deps plugins.Deps, w plugins.Workload) (plugins.ReconcileResult, error) {
	if w.CurrentRevision == "" {
		return plugins.ReconcileResult{Message: "no revision is deployed yet"}, nil
	}
	set, errs := parseConfig(configPath, w.Config)
	if len(errs) > 0 {
		return plugins.ReconcileResult{}, fmt.Errorf("%w: %w", ErrInvalidCompose, errs.ToAggregate())
	}
	all, err := listInstances(ctx, deps.Docker, w)
	if err != nil {
		return plugins.ReconcileResult{}, err
	}
	if !set.inline() {
		// Reading the file means a fetch: first see whether it is needed.
		if res, ok := intact(ctx, deps, w, all); ok {
			return res, nil
		}
	}
	groups := byService(all)
	st, err := loadStack(ctx, w, set, deployedPin(set, all, w.CurrentRevision))
	if err != nil {
		// The proxy's table lives in memory: keep the routes anyway.
		republish(ctx, deps, w, groups)
		return plugins.ReconcileResult{}, err
	}
	r := &repair{deps: deps, st: st, groups: groups, current: map[string]instance{}, healthy: true}
	if err := recordedImages(ctx, deps, st, groups); err != nil {
		r.stale = fmt.Sprintf("the spec's images are not all present (%v): deploy the workload to apply it", err)
	} else if st.setRevision(); st.revision != w.CurrentRevision {
		r.stale = fmt.Sprintf("the spec resolves to revision %s, not the deployed %s: deploy it to apply it", st.revision, w.CurrentRevision)
	}
	st.revision = w.CurrentRevision
	if r.stale != "" {
		r.notes = append(r.notes, r.stale+"; nothing is repaired until then")
	}
	for _, name := range st.order {
		if err := r.service(ctx, st.services[name]); err != nil {
			return r.result(), err
		}
	}
	if r.stale == "" {
		var gone []instance
		for _, svc := range slices.Sorted(maps.Keys(groups)) {
			if _, ok := st.services[svc]; !ok {
				gone = append(gone, groups[svc]...)
			}
		}
		r.remove(ctx, gone)
	}
	return r.result(), nil
}

// repair is one Reconcile call's working state.
type repair struct {
	deps    plugins.Deps
	st      *stack
	groups  map[string][]instance
	current map[string]instance
	// stale says why nothing is repaired; empty when the spec is the
	// deployed revision.
	stale     string
	healthy   bool
	notes     []string
	recreated []string
}

// service checks one service, and repairs it unless r.stale.
func (r *repair) service(ctx context.Context, s *service) error {
	list := r.groups[s.name]
	var matching []instance
	for _, in := range list {
		if r.stale != "" || in.ConfigHash == s.hash && in.ImageID == s.image.id {
			matching = append(matching, in)
		}
	}
	keep, found := newestRunning(matching)
	if found {
		r.current[s.name] = keep
		if strings.Contains(keep.Status, "(unhealthy)") {
			r.unhealthy("container %s of service %s is unhealthy (%s)", keep.Name, s.name, keep.Status)
		}
		if r.stale == "" {
			r.remove(ctx, without(list, keep.ID))
		}
		return setRoutes(ctx, r.deps, r.st, s, keep)
	}
	if i := slices.IndexFunc(matching, func(in instance) bool { return in.State == "restarting" }); i >= 0 {
		r.unhealthy("container %s of service %s is restarting (%s)", matching[i].Name, s.name, matching[i].Status)
		return nil
	}
	// A one-shot run, or one that ended, is not repeated here.
	for _, in := range slices.Backward(matching) {
		if in.State != "exited" || !s.mayComplete() {
			continue
		}
		if completed(ctx, r.deps, in) {
			r.current[s.name] = in
			if r.stale == "" {
				r.remove(ctx, without(list, in.ID))
			}
			return nil
		}
		if s.job {
			r.unhealthy("one-shot service %s failed (%s); deploy again to run it again", s.name, in.Status)
			return nil
		}
		break
	}
	switch {
	case s.job:
		r.notes = append(r.notes, fmt.Sprintf("one-shot service %s has no container; the next deploy runs it", s.name))
		return nil
	case r.stale != "":
		r.unhealthy("service %s has no running container", s.name)
		return nil
	}
	return r.recreate(ctx, s, list)
}

// recreate replaces the containers of long-running service s by a new one
// of the deployed revision, once its dependencies' conditions hold, and
// waits until it is ready (within the progress deadline). A container that
// is not ready stays, so its log tells why, and is routed when it runs.
func (r *repair) recreate(ctx context.Context, s *service, list []instance) error {
	why := "no container was found"
	if n := len(list); n > 0 {
		why = fmt.Sprintf("container %s stopped (%s)", list[n-1].Name, list[n-1].Status)
	}
	rollout := ""
	if n := len(list); n > 0 {
		rollout = list[n-1].Rollout
	}
	pctx, cancel := health.ProgressContext(ctx, r.st.w.Strategy.ProgressDeadline)
	defer cancel()
	for _, dep := range r.st.dependencies(s) {
		in, ok := r.current[dep.service.name]
		switch {
		case !ok && dep.service.job:
			// It completed when the revision was deployed.
			continue
		case !ok:
			r.unhealthy("service %s: %s; not recreated: its dependency %s has no container", s.name, why, dep.service.name)
			return nil
		}
		if err := waitCondition(pctx, r.deps, in, dep.condition); err != nil {
			r.unhealthy("service %s: %s; not recreated: dependency %s (%s): %v", s.name, why, dep.service.name, dep.condition, deployCause(pctx, err))
			return nil
		}
	}
	if _, err := removeAll(ctx, r.deps, list); err != nil {
		r.unhealthy("service %s: %s; removing it failed: %v", s.name, why, err)
		return nil
	}
	d := &deployment{deps: r.deps, st: r.st, rollout: rollout}
	in, err := d.startNew(pctx, s, 1)
	if err != nil {
		r.unhealthy("service %s: %s; recreating it failed: %v", s.name, why, deployCause(pctx, err))
		return nil
	}
	r.recreated = append(r.recreated, s.name)
	r.current[s.name] = in
	g, err := newGate(r.st, s, in, r.deps.PublishedUpstreams)
	if err == nil {
		err = waitReady(pctx, r.deps, in, g, s.mayComplete())
	}
	if err != nil {
		r.unhealthy("service %s: %s; recreated it as %s, which is not ready: %v", s.name, why, in.Name, deployCause(pctx, err))
		r.deps.Log.Info("Recreated container is not ready", "service", s.name, "container", in.Name, "error", err.Error())
	} else {
		r.notes = append(r.notes, fmt.Sprintf("service %s: %s; recreated it as %s", s.name, why, in.Name))
		r.deps.Log.Info("Recreated container", "service", s.name, "container", in.Name, "reason", why)
	}
	if in.running() {
		return setRoutes(ctx, r.deps, r.st, s, in)
	}
	return nil
}

// remove removes leftover containers and notes it.
func (r *repair) remove(ctx context.Context, list []instance) {
	if len(list) == 0 {
		return
	}
	removed, err := removeAll(ctx, r.deps, list)
	if len(removed) > 0 {
		r.notes = append(r.notes, "removed "+strings.Join(removed, ", "))
		r.deps.Log.Info("Removed leftover containers", "removed", removed)
	}
	if err != nil {
		r.notes = append(r.notes, fmt.Sprintf("could not remove leftovers: %v", err))
	}
}

func (r *repair) unhealthy(format string, args ...any) {
	r.healthy = false
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func (r *repair) result() plugins.ReconcileResult {
	res := plugins.ReconcileResult{Healthy: r.healthy, Recreated: r.recreated}
	for _, name := range r.st.order {
		if in, ok := r.current[name]; ok && in.running() {
			res.Endpoints = append(res.Endpoints, in.endpoints()...)
		}
	}
	if len(r.notes) == 0 {
		r.notes = append(r.notes, fmt.Sprintf("revision %s runs: %d services", r.st.revision, len(r.st.order)))
	}
	res.Message = redact(fmt.Errorf("%s", strings.Join(r.notes, "; ")), r.st.w.Env).Error()
	return res
}

// intact checks, from the containers' labels alone, that each service of
// the deployed revision has one container, running or completed, and
// nothing else is there; if so it re-publishes the routes and reports, and
// ok is true. Anything else (or any doubt) is for the full repair.
func intact(ctx context.Context, deps plugins.Deps, w plugins.Workload, all []instance) (plugins.ReconcileResult, bool) {
	var services []string
	for _, in := range slices.Backward(all) {
		if in.Revision == w.CurrentRevision && in.Services != "" {
			services = strings.Split(in.Services, ",")
			break
		}
	}
	groups := byService(all)
	if len(services) == 0 || len(groups) != len(services) {
		return plugins.ReconcileResult{}, false
	}
	res := plugins.ReconcileResult{Healthy: true}
	var notes []string
	for _, name := range services {
		list := groups[name]
		if len(list) != 1 {
			return res, false
		}
		in := list[0]
		switch {
		case in.running():
			if strings.Contains(in.Status, "(unhealthy)") {
				res.Healthy = false
				notes = append(notes, fmt.Sprintf("container %s of service %s is unhealthy (%s)", in.Name, name, in.Status))
			}
			res.Endpoints = append(res.Endpoints, in.endpoints()...)
		case in.State == "exited" && !routed(w, name, len(services)):
			insp, err := deps.Docker.ContainerInspect(ctx, in.ID)
			if err != nil || insp.State == nil || insp.HostConfig == nil || insp.State.ExitCode != 0 ||
				!oneShot(string(insp.HostConfig.RestartPolicy.Name)) {
				return res, false
			}
		default:
			return res, false
		}
	}
	for _, r := range w.Routes {
		name := r.Service
		if name == "" && len(services) == 1 {
			name = services[0]
		}
		in := groups[name]
		if len(in) != 1 || !in[0].running() {
			return res, false
		}
		addr, ok := in[0].upstream(r.Port, deps.PublishedUpstreams)
		if !ok {
			return res, false
		}
		if deps.Routes != nil {
			if err := deps.Routes.SetRoute(ctx, r.Key(), plugins.Backend{Address: addr, Revision: w.CurrentRevision}); err != nil {
				return res, false
			}
		}
	}
	if len(notes) == 0 {
		notes = append(notes, fmt.Sprintf("revision %s runs: %d services", w.CurrentRevision, len(services)))
	}
	res.Message = strings.Join(notes, "; ")
	return res, true
}

// republish points the routes of w at the running containers of their
// services, as their labels say, best effort.
func republish(ctx context.Context, deps plugins.Deps, w plugins.Workload, groups map[string][]instance) {
	if deps.Routes == nil {
		return
	}
	services := slices.DeleteFunc(slices.Collect(maps.Keys(groups)), func(s string) bool { return s == "" })
	for _, r := range w.Routes {
		name := r.Service
		if name == "" && len(services) == 1 {
			name = services[0]
		}
		in, ok := newestRunning(groups[name])
		if !ok {
			continue
		}
		if addr, ok := in.upstream(r.Port, deps.PublishedUpstreams); ok {
			if err := deps.Routes.SetRoute(ctx, r.Key(), plugins.Backend{Address: addr, Revision: w.CurrentRevision}); err != nil {
				deps.Log.Error(err, "Re-publishing route", "route", r.Key().String())
			}
		}
	}
}

// routed reports whether a route of w points at service name of a stack of
// n services.
func routed(w plugins.Workload, name string, n int) bool {
	return slices.ContainsFunc(w.Routes, func(r plugins.Route) bool { return r.Service == name || r.Service == "" && n == 1 })
}

// deployedPin is where the deployed revision's compose file is: the commit
// its revision names, in full from a container's label when one has it,
// else looked up by its prefix.
func deployedPin(set *settings, all []instance, revision string) gitPin {
	pin := gitPin{url: set.gitURL()}
	prefix, ok := revisionCommit(revision)
	if set.inline() || !ok {
		return pin
	}
	pin.prefix = prefix
	for _, in := range slices.Backward(all) {
		if strings.HasPrefix(in.Commit, prefix) && len(in.Commit) > len(prefix) {
			pin.commit = in.Commit
			break
		}
	}
	return pin
}

// newestRunning returns the newest running container of list.
func newestRunning(list []instance) (instance, bool) {
	for _, in := range slices.Backward(list) {
		if in.running() {
			return in, true
		}
	}
	return instance{}, false
}
