package static

import "github.com/tinyforge/tinyforge/plugins"

// Kind is the spec.source.kind that selects this plugin.
const Kind = "static"

// Source is the static source plugin. It serves a site from a folder of a
// git repository at a branch, tag or commit, optionally built by a build
// step in a container, packaged into an image of a serving base image
// (nginx by default), and deployed blue-green like the image source.
//
// The revision of a static workload is <commit[:12]>-<config hash[:8]>: the
// commit served and a hash of what else goes into the image. The image is
// built once per revision, tagged tinyforge-static/<namespace>-<workload>:
// <revision> and labelled with the workload; the containers are the image
// source's (see image.DeployLocal) and carry the static revision. Source
// holds no state: Docker labels and image tags are its record of what was
// built and what runs.
type Source struct{}

// Compile-time checks that Source is a plugins.Source that publishes its
// schema.
var (
	_ plugins.Source   = (*Source)(nil)
	_ plugins.Schemaer = (*Source)(nil)
)

func init() { plugins.RegisterSource(&Source{}) }

// Kind returns "static".
func (*Source) Kind() string { return Kind }
