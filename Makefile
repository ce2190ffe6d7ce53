# Portcullis — every target runs on a Node >= 22.19; older systems get a project-local Node 24
# (see scripts/node-bin.sh). `make test` is the one test command, for people and CI alike.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

NODE_BIN := $(shell scripts/node-bin.sh)
ifneq ($(NODE_BIN),)
export PATH := $(NODE_BIN):$(PATH)
endif
export PORTCULLIS_CACHE ?= $(HOME)/.cache/portcullis
K8S_STATE ?= $(PORTCULLIS_CACHE)/k8s-up
CLUSTER_STATE ?= $(PORTCULLIS_CACHE)/cluster

.PHONY: help install demo demo-cluster controlplane otelcol sdk-servers postgres iptables test test-unit test-integration test-e2e lint format typecheck crds k8s-up k8s-down cluster cluster-up cluster-down build cli image fuzz bench bench-sidecar bench-operator bench-audit bench-policy-file clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

install: node_modules/.installed ## Install npm dependencies (project-local Node 24 if needed)

demo: install ## A walkthrough with real calls: tokens, policy, limits, kill switch, audit (no cluster; < 1 min)
	node cli/main.ts demo

demo-cluster: install cluster image ## The demo's story on a real node: cluster, helm install, kubectl apply -f examples/, calls from pods, kill, audit (root; leaves the cluster up)
	node test/e2e/demo-cluster.ts

controlplane: ## Build and cache kube-apiserver, etcd and helm from the Go module proxy
	test/controlplane/build.sh >/dev/null

otelcol: ## Build and cache the OpenTelemetry Collector the audit export tests send to (Go module proxy)
	test/otelcol/build.sh >/dev/null

sdk-servers: ## Build and cache the differential fuzzer's MCP servers on the official SDKs (Python venv, Go, Rust, Java)
	for build in test/sdk-servers/*/build.sh; do "$$build" >/dev/null; done

postgres: ## Install PostgreSQL from Debian's packages when missing (the PostgreSQL store's tests run a real server)
	scripts/ensure-postgres.sh >/dev/null

iptables: ## Install iptables from Debian's packages when missing (the egress-lock test runs the real iptables-restore)
	scripts/ensure-iptables.sh

test: install controlplane otelcol sdk-servers postgres iptables cluster image cli lint ## THE test command: lint, unit and integration tests against a real kube-apiserver, then end-to-end tests on a real node
	npx vitest run --project unit --project integration
	npx vitest run --project e2e

test-e2e: install cluster image ## End-to-end tests only, on a real single-node cluster (reuses one from cluster-up)
	npx vitest run --project e2e

test-unit: install ## Unit tests only (no control plane)
	npx vitest run --project unit

test-integration: install controlplane otelcol sdk-servers postgres iptables cli ## Integration tests against a real kube-apiserver + etcd
	npx vitest run --project integration

lint: install ## Type-check, lint (including import boundaries) and check formatting
	npx tsc -p tsconfig.json
	npx eslint --max-warnings 0 .
	npx prettier --check .

format: install ## Rewrite files with prettier
	npx prettier --write .

crds: install ## Regenerate crds/*.yaml, docs/api.md and docs/audit/*.schema.json from the TypeScript API
	node scripts/generate-crds.ts crds docs/api.md

k8s-up: install controlplane ## Start a local etcd + kube-apiserver in the background; prints the kubeconfig path
	@node test/harness/k8s-up.ts start --state $(K8S_STATE)

k8s-down: install ## Stop the control plane started by k8s-up
	@node test/harness/k8s-up.ts stop --state $(K8S_STATE)

cluster: controlplane ## Build and cache the node (kubelet, kube-proxy, kube-scheduler) and its add-on images; install containerd, runc, CNI plugins from Debian
	scripts/ensure-node-packages.sh
	test/cluster/build.sh >/dev/null

cluster-up: install cluster image ## Start a real single-node cluster (root; containerd, kubelet, CNI, CoreDNS, NetworkPolicy, StorageClass) with the project's images; prints the kubeconfig path
	@node test/cluster/cluster-up.ts start --state $(CLUSTER_STATE) $$(node scripts/image/build-image.ts | sed 's/^/--image /')

cluster-down: install ## Stop the cluster and undo every host change it made (processes, mounts, bridge, address, iptables chains, sysctls, cgroups)
	@node test/cluster/cluster-up.ts stop --state $(CLUSTER_STATE)

fuzz: install sdk-servers ## Long differential-fuzzer run against the SDK servers (FUZZ_CASES, FUZZ_SECONDS, FUZZ_SEED, FUZZ_SERVERS=a,b) -> bench/results/fuzz.json
	node test/fuzz/main.ts --cases $(or $(FUZZ_CASES),200000) --seconds $(or $(FUZZ_SECONDS),900) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED)) $(if $(FUZZ_SERVERS),--servers $(FUZZ_SERVERS))

bench: bench-sidecar bench-operator bench-audit bench-policy-file ## Run every benchmark (JSON results in bench/results/)

build: install ## Compile to dist/, the commit in dist/build-info.json, and the bundle the image runs in dist/bundle/ (development runs the .ts sources)
	rm -rf dist
	npx tsc -p tsconfig.build.json
	node scripts/write-build-info.ts dist
	node scripts/bundle/main.ts dist

cli: build ## What people install, into release/: the single executable (linux/amd64, no Node needed), its krew archive and manifest, the npm package (prints the paths; DOWNLOAD_URL: where the archive will be published)
	node scripts/release/main.ts $(if $(DOWNLOAD_URL),--download-url $(DOWNLOAD_URL))

image: build ## The image without Docker: docker-save tars of portcullis and portcullis-examples in $PORTCULLIS_CACHE/images (prints the paths)
	node scripts/image/build-image.ts

bench-sidecar: build ## Sidecar added latency (proxied vs direct), throughput and RSS -> bench/results/sidecar.json (BASELINE=<rev> adds that build, same run; BENCH_LOAD=vegeta drives the loops from a Go process)
	SIDECAR_MAIN=dist/cli/main.js $(if $(BASELINE),SIDECAR_BASELINE_MAIN=$$(bench/sidecar/build-baseline.sh $(BASELINE))) node bench/sidecar/main.ts

bench-operator: build controlplane ## Kill-switch propagation (100 watchers + a sidecar) and 1,000-server convergence -> bench/results/operator.json
	OPERATOR_MAIN=dist/cli/main.js node bench/operator/main.ts >/dev/null

bench-audit: build postgres ## Audit cost on the sidecar hot path (log sink vs WAL Batched/Strict), collector ingest per core (SQLite, PostgreSQL) -> bench/results/audit.json (BASELINE=<rev> adds that build's collector, same run)
	PORTCULLIS_MAIN=dist/cli/main.js $(if $(BASELINE),PORTCULLIS_BASELINE_MAIN=$$(bench/sidecar/build-baseline.sh $(BASELINE))) node bench/audit/main.ts >/dev/null

bench-policy-file: build ## File-mode kill switch: write (in place, and by rename) to the sidecar's first refused call, 20 each -> bench/results/policy-file.json
	SIDECAR_MAIN=dist/cli/main.js node bench/policy-file/main.ts >/dev/null

clean: ## Remove build output (the binary cache in $(PORTCULLIS_CACHE) is kept)
	rm -rf dist release coverage node_modules
