package compose

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
	"github.com/tinyforge/tinyforge/plugins"
)

// A deploy cut short the way a controller's crash cuts it (Docker left as
// it was at that instant, no cleanup), then called again, ends with
// exactly one running container per service: first with a container
// created but never started, then in the middle of a blue-green switch
// with both the old and the new container running.
func TestDeployInterrupted(t *testing.T) {
	e := newEnv(t)
	dbRef, _ := e.app("db", dockertest.WithVersion("db"))
	appRef, _ := e.app("app", dockertest.WithVersion("app"))
	doc := `
services:
  db:
    image: ` + dbRef + `
    healthcheck: ` + dbHealth + `
  web:
    image: ` + appRef + `
    environment:
      GREETING: ${GREETING:-hello}
    depends_on:
      db: {condition: service_healthy}
`
	key := plugins.RouteKey{Host: "crash.test", PathPrefix: "/"}
	project := e.ns + "-crash"
	w := func(opts ...func(*plugins.Workload)) plugins.Workload {
		return e.workload("crash", doc, append([]func(*plugins.Workload){withRoute("crash.test", "web", 8080)}, opts...)...)
	}

	// The controller dies right after creating web-1.
	dying := e.dying(func(call, name string) bool { return call == "create" && name == project+"-web-1" })
	if _, err := e.src.Deploy(dying.ctx, dying.deps, w(), plugins.DeploymentIntent{Rollout: "crash-g1"}); err == nil {
		t.Fatal("Deploy survived the crash")
	}
	states := map[string]string{}
	for _, c := range e.containers("crash") {
		states[strings.TrimPrefix(c.Names[0], "/")] = string(c.State)
	}
	if states[project+"-db-1"] != "running" || states[project+"-web-1"] != "created" {
		t.Fatalf("after the crash: %v, want db running and web created", states)
	}
	res, err := e.src.Deploy(e.ctx, e.deps, w(), plugins.DeploymentIntent{Rollout: "crash-g1"})
	if err != nil {
		t.Fatalf("Deploy after the crash: %v", err)
	}
	t.Log(res.Message)
	want := map[string]plugins.ServiceAction{"db": plugins.ServiceUnchanged, "web": plugins.ServiceReplaced}
	if got := actions(res); !equalActions(got, want) {
		t.Errorf("services = %v, want %v", got, want)
	}
	v1 := e.services("crash")
	for svc, c := range v1 {
		if c.State != "running" {
			t.Errorf("%s is %s", svc, c.State)
		}
	}
	rev1 := res.Revision

	// The controller dies in a blue-green switch: web-2 started, the route
	// still on web-1.
	dying = e.dying(func(call, name string) bool { return call == "start" && name == project+"-web-2" })
	if _, err := e.src.Deploy(dying.ctx, dying.deps, w(withEnv("GREETING", "again"), withCurrent(rev1)), plugins.DeploymentIntent{Rollout: "crash-g2"}); err == nil {
		t.Fatal("Deploy survived the crash")
	}
	if n := len(e.containers("crash")); n != 3 {
		t.Fatalf("after the crash: %v, want db, web-1 and web-2", describe(e.containers("crash")))
	}
	res, err = e.src.Deploy(e.ctx, e.deps, w(withEnv("GREETING", "again"), withCurrent(rev1)), plugins.DeploymentIntent{Rollout: "crash-g2"})
	if err != nil {
		t.Fatalf("Deploy after the crash: %v", err)
	}
	t.Log(res.Message)
	v2 := e.services("crash")
	if v2["db"].ID != v1["db"].ID || v2["web"].Names[0] != "/"+project+"-web-2" || v2["web"].State != "running" {
		t.Errorf("after the second deploy: %v, want db kept and web-2 running", describe(e.containers("crash")))
	}
	if got := actions(res); got["web"] != plugins.ServiceReplaced || got["db"] != plugins.ServiceUnchanged {
		t.Errorf("services = %v, want web Replaced, db Unchanged", got)
	}
	b := e.routes.backend(key)
	if b.Revision != res.Revision {
		t.Errorf("route = %+v, want revision %s", b, res.Revision)
	}
	dockertest.WaitHTTP(t, "http://"+b.Address+"/env?key=GREETING", "again", 5*time.Second)
}

// dyingDeploy is a deploy's context and deps whose Docker client dies at a
// chosen call: that call succeeds, every later one fails, and the context
// is cancelled, as if the controller's process had ended.
type dyingDeploy struct {
	ctx  context.Context
	deps plugins.Deps
}

func (e *env) dying(at func(call, name string) bool) dyingDeploy {
	ctx, cancel := context.WithCancel(e.ctx)
	e.t.Cleanup(cancel)
	d := &dyingDocker{API: e.cli, at: at, cancel: cancel, names: map[string]string{}}
	deps := e.deps
	deps.Docker = d
	return dyingDeploy{ctx: ctx, deps: deps}
}

var errDead = errors.New("the controller is gone")

// dyingDocker is the real client until at says the call it just made was
// the last.
type dyingDocker struct {
	docker.API
	at     func(call, name string) bool
	cancel context.CancelFunc

	mu    sync.Mutex
	dead  bool
	names map[string]string // container ID to name
}

func (d *dyingDocker) alive() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		return errDead
	}
	return nil
}

// after records a successful call and dies when it was the chosen one.
func (d *dyingDocker) after(call, name string) {
	if d.at(call, name) {
		d.mu.Lock()
		d.dead = true
		d.mu.Unlock()
		d.cancel()
	}
}

func (d *dyingDocker) ContainerCreate(ctx context.Context, config *container.Config, host *container.HostConfig, nc *network.NetworkingConfig, platform *ocispec.Platform, name string) (container.CreateResponse, error) {
	if err := d.alive(); err != nil {
		return container.CreateResponse{}, err
	}
	r, err := d.API.ContainerCreate(ctx, config, host, nc, platform, name)
	if err == nil {
		d.mu.Lock()
		d.names[r.ID] = name
		d.mu.Unlock()
		d.after("create", name)
	}
	return r, err
}

func (d *dyingDocker) ContainerStart(ctx context.Context, id string, options container.StartOptions) error {
	if err := d.alive(); err != nil {
		return err
	}
	err := d.API.ContainerStart(ctx, id, options)
	if err == nil {
		d.mu.Lock()
		name := d.names[id]
		d.mu.Unlock()
		d.after("start", name)
	}
	return err
}

func (d *dyingDocker) ContainerStop(ctx context.Context, id string, options container.StopOptions) error {
	if err := d.alive(); err != nil {
		return err
	}
	return d.API.ContainerStop(ctx, id, options)
}

func (d *dyingDocker) ContainerRemove(ctx context.Context, id string, options container.RemoveOptions) error {
	if err := d.alive(); err != nil {
		return err
	}
	return d.API.ContainerRemove(ctx, id, options)
}

func (d *dyingDocker) ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error) {
	if err := d.alive(); err != nil {
		return nil, err
	}
	return d.API.ContainerList(ctx, options)
}

func (d *dyingDocker) ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error) {
	if err := d.alive(); err != nil {
		return container.InspectResponse{}, err
	}
	return d.API.ContainerInspect(ctx, id)
}

func (d *dyingDocker) ContainerLogs(ctx context.Context, id string, options container.LogsOptions) (io.ReadCloser, error) {
	if err := d.alive(); err != nil {
		return nil, err
	}
	return d.API.ContainerLogs(ctx, id, options)
}

func (d *dyingDocker) ImageInspect(ctx context.Context, ref string, opts ...client.ImageInspectOption) (image.InspectResponse, error) {
	if err := d.alive(); err != nil {
		return image.InspectResponse{}, err
	}
	return d.API.ImageInspect(ctx, ref, opts...)
}

func (d *dyingDocker) NetworkCreate(ctx context.Context, name string, options network.CreateOptions) (network.CreateResponse, error) {
	if err := d.alive(); err != nil {
		return network.CreateResponse{}, err
	}
	return d.API.NetworkCreate(ctx, name, options)
}

func (d *dyingDocker) NetworkList(ctx context.Context, options network.ListOptions) ([]network.Summary, error) {
	if err := d.alive(); err != nil {
		return nil, err
	}
	return d.API.NetworkList(ctx, options)
}

func (d *dyingDocker) NetworkInspect(ctx context.Context, id string, options network.InspectOptions) (network.Inspect, error) {
	if err := d.alive(); err != nil {
		return network.Inspect{}, err
	}
	return d.API.NetworkInspect(ctx, id, options)
}

func (d *dyingDocker) NetworkRemove(ctx context.Context, id string) error {
	if err := d.alive(); err != nil {
		return err
	}
	return d.API.NetworkRemove(ctx, id)
}

func (d *dyingDocker) NetworkConnect(ctx context.Context, id, containerID string, config *network.EndpointSettings) error {
	if err := d.alive(); err != nil {
		return err
	}
	return d.API.NetworkConnect(ctx, id, containerID, config)
}

func (d *dyingDocker) VolumeCreate(ctx context.Context, options volume.CreateOptions) (volume.Volume, error) {
	if err := d.alive(); err != nil {
		return volume.Volume{}, err
	}
	return d.API.VolumeCreate(ctx, options)
}
