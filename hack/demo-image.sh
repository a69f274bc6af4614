#!/usr/bin/env bash
# demo-image.sh [VERSION]: build tinyforge/hello:VERSION, a FROM-scratch image
# of test/testapp (a tiny HTTP server answering "version=VERSION"), so the
# samples run on a machine that cannot pull images.
set -euo pipefail
version=${1:-v1}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$dir/testapp" ./test/testapp
cat > "$dir/Dockerfile" <<DOCKERFILE
FROM scratch
COPY testapp /testapp
ENV VERSION=$version
EXPOSE 8080
ENTRYPOINT ["/testapp"]
DOCKERFILE
DOCKER=docker
[ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker
$DOCKER build -q -t "tinyforge/hello:$version" "$dir"
