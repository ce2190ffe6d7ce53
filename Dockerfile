# syntax=docker/dockerfile:1
# The one Portcullis image. Every component is a subcommand of the same entry point:
#   portcullis operator | collector | sidecar | egress-lock | audit | ...
# plus the static stdio bridge that an init container installs into stdio server pods
# (/usr/local/bin/portcullis-stdio-bridge install DEST, see operator/builders/deployment.ts).
#
#   docker build --build-arg PORTCULLIS_COMMIT=$(git rev-parse HEAD) -t ghcr.io/portcullis-dev/portcullis:0.1.0 .
#
# PORTCULLIS_COMMIT is the commit `portcullis version` and the start-up log lines name (the build context
# has no .git); without it they say "unknown".
#
# Without a Docker engine, `make image` builds the same layout from Debian's .debs (scripts/image/);
# test/integration/image-layout.int.test.ts parses this file's final stage and holds that build to it.
#
# The tag must match what the operator puts into server pods (operator settings `sidecarImage`,
# default ghcr.io/portcullis-dev/portcullis:<version>; the Helm chart sets it to its own image).
# docs/install.md has the build, push and multi-arch steps.

ARG NODE_VERSION=24
ARG GO_VERSION=1.24

# 1. TypeScript -> dist/ (what `make build` does). Dev dependencies live only in this stage.
FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY lib lib
COPY api api
COPY policy policy
COPY kube kube
COPY operator operator
COPY sidecar sidecar
COPY collector collector
COPY cli cli
# The example MCP servers (examples/servers/, dist/examples/servers/*.js), which the portcullis-examples image runs.
COPY examples/servers examples/servers
RUN npx tsc -p tsconfig.build.json
# dist/build-info.json: the commit, recorded as `make build` records it (scripts/write-build-info.ts).
COPY scripts/write-build-info.ts scripts/
ARG PORTCULLIS_COMMIT
RUN node scripts/write-build-info.ts dist
# dist/bundle/: what the entry point runs, one minified ES module per command (scripts/bundle/bundle.ts).
COPY scripts/bundle/*.ts scripts/bundle/
RUN node scripts/bundle/main.ts dist

# 2. The stdio bridge: static (no CGO), so it runs inside any server image.
FROM golang:${GO_VERSION}-bookworm AS bridge
WORKDIR /src
COPY stdio-bridge/ ./
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/portcullis-stdio-bridge .

# 3. Production dependencies only (no compiler, no test tools).
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force

# 4. The image: Node 24 (Debian bookworm, slim) + iptables for the egress-lock init container.
FROM node:${NODE_VERSION}-bookworm-slim
# iptables-restore / ip6tables-restore (nft backend by default; the legacy tools come with the package).
RUN apt-get update \
  && apt-get install -y --no-install-recommends iptables \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=bridge /out/portcullis-stdio-bridge /usr/local/bin/portcullis-stdio-bridge
ENV NODE_ENV=production
# A numeric, non-root user (no passwd entry needed), so runAsNonRoot can be verified by the kubelet.
# The operator runs sidecars as this UID (settings sidecarUid) and only egress-lock as root.
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/bundle/portcullis.js"]
CMD ["--help"]
