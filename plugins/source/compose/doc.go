// Package compose is the "compose" source plugin: it runs a Docker Compose stack, parsed with compose-spec/compose-go, through the Docker API as one workload, labelled so that `docker compose ls` and `docker compose -p NAME ps` list it.
package compose
