# TinyForge. `make run` starts the server, `make test` proves it.
SHELL := /usr/bin/env bash

KUBE_VERSION := v1.37.2
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# kubectl parses the server's version as Kubernetes', so TinyForge reports
# Kubernetes' version with its own as build metadata, as k3s does.
VERSION_PKG := k8s.io/component-base/version
LDFLAGS := -X $(VERSION_PKG).gitVersion=$(KUBE_VERSION)+tinyforge.$(VERSION) \
	-X $(VERSION_PKG).gitMajor=1 -X $(VERSION_PKG).gitMinor=37 \
	-X $(VERSION_PKG).gitCommit=$(COMMIT) -X $(VERSION_PKG).gitTreeState=clean \
	-X $(VERSION_PKG).buildDate=1970-01-01T00:00:00Z
GOFLAGS_BUILD := -ldflags '$(LDFLAGS)'
TEST_TIMEOUT ?= 60m
FUZZTIME ?= 10s

export TINYFORGE_LDFLAGS := $(LDFLAGS)

.PHONY: all build demo-image generate manifests openapi verify-generated test test-env unit fuzz run bench fmt vet clean

all: build

build: ## Build bin/tinyforge and bin/forgectl.
	go build $(GOFLAGS_BUILD) -o bin/tinyforge ./cmd/tinyforge
	go build $(GOFLAGS_BUILD) -o bin/forgectl ./cmd/forgectl

generate: openapi ## Regenerate deepcopy functions and core OpenAPI definitions.
	go tool controller-gen object:headerFile=hack/boilerplate.go.txt paths=./api/...

openapi:
	go tool openapi-gen --output-dir internal/apiserver/openapi \
		--output-pkg github.com/tinyforge/tinyforge/internal/apiserver/openapi \
		--output-file zz_generated.openapi.go --go-header-file hack/boilerplate.go.txt \
		--report-filename /dev/null \
		k8s.io/api/core/v1 k8s.io/api/coordination/v1 k8s.io/apimachinery/pkg/api/resource \
		k8s.io/apimachinery/pkg/apis/meta/v1 k8s.io/apimachinery/pkg/runtime \
		k8s.io/apimachinery/pkg/util/intstr k8s.io/apimachinery/pkg/version

manifests: ## Regenerate the CRDs in config/crd/bases.
	go tool controller-gen crd paths=./api/... output:crd:artifacts:config=config/crd/bases

verify-generated: generate manifests ## Fail when generated files differ from the committed ones.
	@if [ -n "$$(git status --porcelain -- api config internal/apiserver/openapi)" ]; then \
		echo "generated files are stale; run 'make generate manifests' and commit:"; \
		git status --porcelain -- api config internal/apiserver/openapi; git diff --stat; exit 1; fi

test-env: ## Install and start what the tests need (Docker, registry, git).
	hack/test-env.sh

test: test-env verify-generated vet unit fuzz ## Everything CI runs.

unit:
	go test $(GOFLAGS_BUILD) -timeout $(TEST_TIMEOUT) -count=1 ./...

fuzz: ## Run each fuzz target briefly.
	hack/fuzz.sh $(FUZZTIME)

vet:
	go vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

demo-image: ## Build tinyforge/hello:v1 and :v2 (FROM scratch; nothing is pulled) for the samples.
	hack/demo-image.sh v1
	hack/demo-image.sh v2

run: build ## Start the server with its data in the default data dir.
	bin/tinyforge server

bench: build ## Print performance figures.
	hack/bench-api.sh
	hack/bench-flow.sh

clean:
	rm -rf bin
