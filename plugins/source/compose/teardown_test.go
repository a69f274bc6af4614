package compose

import (
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/tinyforge/tinyforge/internal/docker"
	"github.com/tinyforge/tinyforge/internal/docker/dockertest"
	"github.com/tinyforge/tinyforge/plugins"
)

// Teardown removes the route, the containers and the networks, keeps the
// volume unless asked, and can run again with a broken config; a routed
// service that holds a volume is recreated in place.
func TestTeardown(t *testing.T) {
	e := newEnv(t)
	appRef, _ := e.app("app", dockertest.WithVersion("app"))
	doc := `
services:
  db:
    image: ` + appRef + `
    environment: {VERSION: "${DB_VERSION:-db1}"}
    volumes: ["data:/data", {type: tmpfs, target: /cache}]
    networks: [default, back]
  web:
    image: ` + appRef + `
    networks: [back]
networks:
  back: {internal: true}
volumes:
  data:
    labels: {com.example.backup: daily}
`
	project := e.ns + "-gone"
	key := plugins.RouteKey{Host: "gone.test", PathPrefix: "/"}
	w := e.workload("gone", doc, withRoute("gone.test", "db", 8080))
	res, err := e.src.Deploy(e.ctx, e.deps, w, plugins.DeploymentIntent{})
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	byProject := filters.NewArgs(filters.Arg("label", LabelProject+"="+project))
	vols, err := e.cli.VolumeList(e.ctx, volume.ListOptions{Filters: byProject})
	if err != nil || len(vols.Volumes) != 1 {
		t.Fatalf("volumes = %+v, %v", vols.Volumes, err)
	}
	if v := vols.Volumes[0]; v.Name != project+"_data" || v.Labels[LabelVolume] != "data" || v.Labels["com.example.backup"] != "daily" ||
		v.Labels[docker.LabelWorkload] != "gone" {
		t.Errorf("volume = %s %v", v.Name, v.Labels)
	}
	nets, err := e.cli.NetworkList(e.ctx, network.ListOptions{Filters: byProject})
	if err != nil || len(nets) != 2 {
		t.Fatalf("networks = %+v, %v; want default and back", nets, err)
	}
	for _, n := range nets {
		if n.Name == project+"_back" && !n.Internal {
			t.Errorf("network back is not internal")
		}
	}
	dbNets := e.inspect(e.services("gone")["db"].ID).NetworkSettings.Networks
	if dbNets[project+"_default"] == nil || dbNets[project+"_back"] == nil || len(dbNets) != 2 {
		t.Errorf("db's networks = %v, want default and back", dbNets)
	}

	// db holds a volume: a change recreates it in place.
	w.CurrentRevision = res.Revision
	w.Env = []plugins.EnvVar{{Name: "DB_VERSION", Value: "db2"}}
	res, err = e.src.Deploy(e.ctx, e.deps, w, plugins.DeploymentIntent{})
	if err != nil {
		t.Fatalf("Deploy(db2): %v", err)
	}
	if db := e.services("gone")["db"]; db.Names[0] != "/"+project+"-db-1" {
		t.Errorf("db after a change = %s, want %s-db-1 recreated in place", db.Names[0], project)
	}
	dockertest.WaitHTTP(t, "http://"+e.routes.backend(key).Address+"/", "version=db2", 5*time.Second)

	if err := e.src.Teardown(e.ctx, e.deps, w); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if list := e.containers("gone"); len(list) != 0 {
		t.Errorf("containers left: %v", describe(list))
	}
	if e.routes.has(key) {
		t.Error("route left")
	}
	if nets, _ := e.cli.NetworkList(e.ctx, network.ListOptions{Filters: byProject}); len(nets) != 0 {
		t.Errorf("networks left: %+v", nets)
	}
	if vols, _ := e.cli.VolumeList(e.ctx, volume.ListOptions{Filters: byProject}); len(vols.Volumes) != 1 {
		t.Errorf("volumes = %+v, want data kept", vols.Volumes)
	}

	w.RemoveVolumes = true
	w.Config = []byte(`{"compose":`)
	if err := e.src.Teardown(e.ctx, e.deps, w); err != nil {
		t.Fatalf("Teardown(remove volumes): %v", err)
	}
	if vols, _ := e.cli.VolumeList(e.ctx, volume.ListOptions{Filters: byProject}); len(vols.Volumes) != 0 {
		t.Errorf("volumes = %+v, want none", vols.Volumes)
	}
}
