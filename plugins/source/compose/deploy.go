package compose

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/go-logr/logr"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/plugins"
	"github.com/tinyforge/tinyforge/plugins/source/internal/health"
)

// Deploy makes the workload's compose stack run as its spec says now.
//
// The stack is one revision: a hash of the loaded project and its images'
// IDs, after the commit's prefix for a file from git (read at the commit
// of intent.Git, or of intent.Revision for a rollback, else at git.ref).
// An inline file is deployed as the spec has it now, whatever revision the
// intent names. Services are handled one by one, each after those it depends on
// (which are first waited for as their depends_on condition says). A
// service whose container already runs with the same config hash and image
// is left alone; a one-shot service that completed with them is not rerun.
// Others get a new container: blue-green (start beside the old one, wait
// until healthy, switch the routes, drain, remove the old) when routed,
// holding no volume and binding no fixed host port under the BlueGreen
// strategy; in place (remove, then start) otherwise. Containers of services
// gone from the file are removed, then every container is awaited until
// ready (healthy, running a while, or completed for one-shot services).
//
// Deploy picks up whatever an interrupted deploy left: reusable containers
// are reused, the others removed, so it ends with one container per
// service. A failure leaves the services handled before it as they are
// now, and a routed blue-green service's previous container serving.
func (s *Source) Deploy(ctx context.Context, deps plugins.Deps, w plugins.Workload, intent plugins.DeploymentIntent) (plugins.DeployResult, error) {
	start := time.Now()
	set, errs := parseConfig(configPath, w.Config)
	if len(errs) > 0 {
		return plugins.DeployResult{Revision: intent.Revision}, fmt.Errorf("%w: %w", ErrInvalidCompose, errs.ToAggregate())
	}
	pctx, cancel := health.ProgressContext(ctx, w.Strategy.ProgressDeadline)
	defer cancel()
	pin, err := deployPin(set, intent)
	if err != nil {
		return plugins.DeployResult{Revision: intent.Revision}, err
	}
	st, err := loadStack(pctx, w, set, pin)
	if err != nil {
		return plugins.DeployResult{Revision: intent.Revision}, deployCause(pctx, err)
	}
	if err := resolveImages(pctx, deps, st, intent); err != nil {
		return plugins.DeployResult{Revision: intent.Revision}, redact(fmt.Errorf("resolving images: %w", deployCause(pctx, err)), w.Env)
	}
	st.setRevision()
	d := &deployment{
		deps:    deps,
		log:     deps.Log.WithValues("revision", st.revision, "rollout", intent.Rollout),
		st:      st,
		rollout: intent.Rollout,
		asked:   intent.Revision,
		start:   start,
		current: map[string]instance{},
	}
	d.log.Info("Deploying", "project", st.project.Name, "services", st.order, "strategy", w.Strategy.Type, "commit", st.commit)
	res, err := d.run(ctx, pctx)
	return res, redact(err, w.Env)
}

// loadStack loads the compose file of w and works out its services: the
// inline file, or the git repository's where pin says.
func loadStack(ctx context.Context, w plugins.Workload, set *settings, pin gitPin) (*stack, error) {
	doc := inlineDocument(w, set)
	if !set.inline() {
		commit, err := pin.resolve(ctx, set)
		if err != nil {
			return nil, err
		}
		fetched, cleanup, err := fetchDocument(ctx, w, set, pin.url, commit)
		if err != nil {
			return nil, redact(err, w.Env)
		}
		defer cleanup()
		doc = fetched
	}
	proj, err := loadWorkload(ctx, w, set, doc)
	if err != nil {
		if doc.commit != "" {
			err = fmt.Errorf("commit %s: %w", doc.commit, err)
		}
		return nil, err
	}
	st, err := newStack(w, proj)
	if err != nil {
		return nil, redact(err, w.Env)
	}
	st.commit = doc.commit
	return st, nil
}

// deployment is one Deploy call's working state.
type deployment struct {
	deps    plugins.Deps
	log     logr.Logger
	st      *stack
	rollout string
	// asked is the intent's revision, if any.
	asked string
	start time.Time
	// current is the container each service handled so far runs in.
	current  map[string]instance
	outcomes []outcome
}

// outcome is what a deploy did to one service.
type outcome struct {
	service string
	action  plugins.ServiceAction
	// how says it for people: "blue-green", "recreated in place", …
	how string
	// container is the service's container now; empty for removed ones.
	container string
	// removed names the containers of the service that were removed.
	removed []string
	// gated: the container passed the routed services' gate already, or
	// is a one-shot service's that completed.
	gated bool
}

// run deploys the stack's services in order, removes what the stack no
// longer has, and waits until everything is ready.
func (d *deployment) run(ctx, pctx context.Context) (plugins.DeployResult, error) {
	st := d.st
	res := plugins.DeployResult{Revision: st.revision}
	existing, err := listInstances(pctx, d.deps.Docker, st.w)
	if err != nil {
		return res, err
	}
	groups := byService(existing)
	if err := ensureNetworks(pctx, d.deps, st); err != nil {
		return res, deployCause(pctx, err)
	}
	if err := ensureVolumes(pctx, d.deps, st); err != nil {
		return res, deployCause(pctx, err)
	}
	for _, name := range st.order {
		out, err := d.deployService(ctx, pctx, st.services[name], groups[name])
		if err != nil {
			res.Services = d.results()
			return res, d.failure(name, deployCause(pctx, err))
		}
		d.outcomes = append(d.outcomes, out)
	}

	// What the stack no longer has: services gone from the file (or
	// disabled by profiles), and containers that belong to no service.
	var gone []instance
	for _, svc := range slices.Sorted(maps.Keys(groups)) {
		if _, ok := st.services[svc]; ok {
			continue
		}
		gone = append(gone, groups[svc]...)
		if svc != "" {
			d.outcomes = append(d.outcomes, outcome{service: svc, action: plugins.ServiceRemoved, how: "removed"})
		}
	}
	removed, rmErr := removeAll(ctx, d.deps, gone)
	if err := d.settle(pctx); err != nil {
		res.Services = d.results()
		return res, d.failure("", deployCause(pctx, err))
	}
	nets, netErr := removeUnusedNetworks(ctx, d.deps, st)

	res.Services = d.results()
	res.Endpoints = d.endpoints()
	var msg strings.Builder
	for i, o := range d.outcomes {
		if i > 0 {
			msg.WriteString("; ")
		}
		fmt.Fprintf(&msg, "%s: %s", o.service, o.how)
		var what []string
		if o.container != "" && o.action != plugins.ServiceUnchanged {
			what = append(what, o.container)
		}
		if len(o.removed) > 0 {
			what = append(what, "removed "+strings.Join(o.removed, ", "))
		}
		if len(what) > 0 {
			fmt.Fprintf(&msg, " (%s)", strings.Join(what, "; "))
		}
	}
	fmt.Fprintf(&msg, "; revision %s ready after %v", st.revision, time.Since(d.start).Round(time.Millisecond))
	if st.commit != "" {
		fmt.Fprintf(&msg, " (commit %s)", st.commit)
	}
	if d.asked != "" && d.asked != st.revision {
		// An inline file's old revisions cannot be read again.
		fmt.Fprintf(&msg, "; revision %s was asked for, the spec resolves to this one", d.asked)
	}
	if len(removed) > 0 {
		fmt.Fprintf(&msg, "; removed %s", strings.Join(removed, ", "))
	}
	if len(nets) > 0 {
		fmt.Fprintf(&msg, "; removed network %s", strings.Join(nets, ", "))
	}
	if err := errors.Join(rmErr, netErr); err != nil {
		// The stack serves: leftovers are Reconcile's or the next deploy's.
		fmt.Fprintf(&msg, "; could not remove leftovers: %v", err)
		d.log.Error(err, "Removing leftovers")
	}
	res.Message = msg.String()
	d.log.Info("Deployed", "services", len(st.order), "removed", removed, "duration", time.Since(d.start).Round(time.Millisecond))
	return res, nil
}

// deployService brings one service to the stack's revision and returns
// what it did; d.current names its container afterwards.
func (d *deployment) deployService(ctx, pctx context.Context, s *service, list []instance) (outcome, error) {
	st := d.st
	log := d.log.WithValues("service", s.name)
	if cur, ok := d.reuse(pctx, s, list); ok {
		d.current[s.name] = cur
		others := without(list, cur.ID)
		if err := setRoutes(ctx, d.deps, st, s, cur); err != nil {
			return outcome{}, err
		}
		drain(ctx, d.deps, st, s, others)
		removed, err := removeAll(ctx, d.deps, others)
		if err != nil {
			return outcome{}, fmt.Errorf("removing old containers: %w", err)
		}
		out := outcome{service: s.name, action: plugins.ServiceUnchanged, how: "unchanged", container: cur.Name, gated: s.routed(), removed: removed}
		if cur.State == "exited" {
			out.how, out.gated = "completed before", true
		}
		if slices.ContainsFunc(others, instance.running) {
			out.action, out.how = plugins.ServiceReplaced, "replaced by the container an earlier attempt started"
		}
		log.Info("Reusing the container of the revision", "container", cur.Name)
		return out, nil
	}

	for _, dep := range st.dependencies(s) {
		in, ok := d.current[dep.service.name]
		if !ok {
			continue
		}
		log.V(1).Info("Waiting for dependency", "dependency", dep.service.name, "condition", dep.condition)
		if err := waitCondition(pctx, d.deps, in, dep.condition); err != nil {
			return outcome{}, fmt.Errorf("dependency %s (%s): %w", dep.service.name, dep.condition, err)
		}
	}

	running := slices.ContainsFunc(list, instance.running)
	out := outcome{service: s.name, action: plugins.ServiceCreated, how: "created"}
	if len(list) > 0 {
		out.action = plugins.ServiceReplaced
	}
	if st.blueGreen(s) && running {
		in, err := d.startNew(pctx, s, freeNumber(list))
		if err != nil {
			return outcome{}, err
		}
		if err := d.gate(ctx, pctx, s, in); err != nil {
			return outcome{}, fmt.Errorf("%w; the previous container keeps serving", err)
		}
		if err := setRoutes(ctx, d.deps, st, s, in); err != nil {
			return outcome{}, err
		}
		drain(ctx, d.deps, st, s, list)
		removed, err := removeAll(ctx, d.deps, list)
		if err != nil {
			log.Error(err, "Removing the previous containers")
		}
		d.current[s.name] = in
		out.removed = removed
		out.how, out.container, out.gated = "replaced blue-green", in.Name, true
		return out, nil
	}

	if s.routed() && running {
		// The routes answer 503 until the new container is ready.
		if err := clearRoutes(ctx, d.deps, s); err != nil {
			return outcome{}, err
		}
		drain(ctx, d.deps, st, s, list)
	}
	removed, err := removeAll(ctx, d.deps, list)
	if err != nil {
		return outcome{}, fmt.Errorf("removing the previous containers: %w", err)
	}
	out.removed = removed
	in, err := d.startNew(pctx, s, 1)
	if err != nil {
		return outcome{}, err
	}
	if s.routed() {
		if err := d.gate(ctx, pctx, s, in); err != nil {
			if running {
				err = fmt.Errorf("%w; the service was recreated in place (it holds a volume or a fixed host port, or the strategy is Recreate), so its routes answer 503", err)
			}
			return outcome{}, err
		}
		if err := setRoutes(ctx, d.deps, st, s, in); err != nil {
			return outcome{}, err
		}
		out.gated = true
	}
	d.current[s.name] = in
	if len(list) > 0 {
		out.how = "recreated in place"
	}
	out.container = in.Name
	return out, nil
}

// reuse returns a container of s with the service's config hash and image
// that runs (and, for a routed service, passes the gate), or that
// completed as a one-shot service; one of this rollout first, then the
// newest.
func (d *deployment) reuse(pctx context.Context, s *service, list []instance) (instance, bool) {
	var found []instance
	for _, in := range list {
		if in.ConfigHash == s.hash && in.ImageID == s.image.id && (in.running() || in.State == "exited") {
			found = append(found, in)
		}
	}
	slices.SortStableFunc(found, func(a, b instance) int {
		if (a.Rollout == d.rollout) != (b.Rollout == d.rollout) {
			if a.Rollout == d.rollout {
				return -1
			}
			return 1
		}
		return cmp.Compare(b.Created, a.Created)
	})
	for _, in := range found {
		switch {
		case in.State == "exited":
			if s.mayComplete() && completed(pctx, d.deps, in) {
				return in, true
			}
		case strings.Contains(in.Status, "(unhealthy)"):
		case s.routed():
			g, err := newGate(d.st, s, in, d.deps.PublishedUpstreams)
			if err == nil {
				err = waitReady(pctx, d.deps, in, g, false)
			}
			if err == nil {
				return in, true
			}
			d.log.Info("Not reusing a container of the revision", "container", in.Name, "reason", err.Error())
			if pctx.Err() != nil {
				return instance{}, false
			}
		default:
			return in, true
		}
	}
	return instance{}, false
}

// completed reports whether a container exited with code 0 (see
// service.mayComplete).
func completed(ctx context.Context, deps plugins.Deps, in instance) bool {
	insp, err := deps.Docker.ContainerInspect(ctx, in.ID)
	return err == nil && insp.State != nil && insp.State.Status == "exited" && insp.State.ExitCode == 0
}

// startNew creates and starts container number n of s; one that fails to
// start is removed.
func (d *deployment) startNew(pctx context.Context, s *service, n int) (instance, error) {
	in, err := createContainer(pctx, d.deps, d.st, s, n, d.rollout)
	if err != nil {
		return instance{}, err
	}
	if err := startContainer(pctx, d.deps, &in); err != nil {
		docker.RemoveQuietly(pctx, d.deps.Docker, d.deps.Log, in.ID, in.Name, removeTimeout)
		return instance{}, err
	}
	return in, nil
}

// gate waits until a new container of routed service s is ready; one that
// is not is removed.
func (d *deployment) gate(ctx, pctx context.Context, s *service, in instance) error {
	g, err := newGate(d.st, s, in, d.deps.PublishedUpstreams)
	if err == nil {
		err = waitReady(pctx, d.deps, in, g, false)
	}
	if err != nil {
		docker.RemoveQuietly(ctx, d.deps.Docker, d.deps.Log, in.ID, in.Name, removeTimeout)
		d.log.Info("New container is not ready; removed it", "container", in.Name, "reason", err.Error())
		return fmt.Errorf("container %s (%s) did not become ready, and was removed: %w", in.Name, s.image.display, err)
	}
	return nil
}

// settle waits, concurrently, until every container of the stack not
// gated yet is ready: one-shot services completed, others running (and
// healthy, when they have a health check) for minReady.
func (d *deployment) settle(pctx context.Context) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, o := range d.outcomes {
		in, ok := d.current[o.service]
		if !ok || o.gated {
			continue
		}
		s := d.st.services[o.service]
		wg.Go(func() {
			var err error
			if s.job {
				err = waitCondition(pctx, d.deps, in, conditionCompleted)
			} else {
				hc := health.Check(d.st.w)
				err = waitReady(pctx, d.deps, in, gate{hc: hc, minRunning: hc.MinReady}, s.mayComplete())
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("service %s: %w", s.name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// oneShot reports whether a container of this restart policy that exits
// with code 0 is done rather than crashed.
func oneShot(restart string) bool {
	policy, _, _ := restartPolicy(restart)
	return policy == types.RestartPolicyNo || policy == types.RestartPolicyOnFailure
}

// failure says what failed and what the deploy did before.
func (d *deployment) failure(service string, err error) error {
	var done []string
	for _, o := range d.outcomes {
		if o.action != plugins.ServiceUnchanged {
			done = append(done, o.service+" "+o.how)
		}
	}
	if service != "" {
		err = fmt.Errorf("service %s: %w", service, err)
	}
	if len(done) > 0 {
		err = fmt.Errorf("%w (already done: %s)", err, strings.Join(done, ", "))
	}
	d.log.Info("Deploy failed", "service", service, "error", err.Error())
	return err
}

// results lists the outcomes for the DeployResult.
func (d *deployment) results() []plugins.ServiceResult {
	out := make([]plugins.ServiceResult, 0, len(d.outcomes))
	for _, o := range d.outcomes {
		out = append(out, plugins.ServiceResult{Name: o.service, Action: o.action,
			BlueGreen: o.action == plugins.ServiceReplaced && o.how == "blue-green"})
	}
	return out
}

// endpoints lists the loopback addresses of the stack's containers.
func (d *deployment) endpoints() []string {
	var out []string
	for _, name := range d.st.order {
		if in, ok := d.current[name]; ok {
			out = append(out, in.endpoints()...)
		}
	}
	return out
}

func without(list []instance, id string) []instance {
	return slices.DeleteFunc(slices.Clone(list), func(in instance) bool { return in.ID == id })
}

// deployCause replaces a context error by the context's cause, which
// names the progress deadline.
func deployCause(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (%v)", context.Cause(ctx), err)
	}
	return err
}
