// Package routefeed feeds a proxy that runs apart from the controllers
// (`tinyforge proxy`) with the routes Workloads publish in status.routes.
//
// The workload controller writes status.routes at the moment it switches a
// route (after the new backends passed their health checks, before the old
// ones drain), so a proxy fed from it switches within a watch event of the
// proxy in the controllers' process. The feed does no health checking of
// its own: the controller vouches for the backends it publishes.
package routefeed
