# Switchyard as a sidecar image: Switchyard and HAProxy (master-worker) under
# tini, as a non-root user, logging to stdout/stderr. Every config key can be
# overridden with SWITCHYARD_<PATH> (see README). The steps below are the
# scripts the test suite runs (test/integration/sidecar.test.ts), since no
# Docker engine runs where the tests do.

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY src ./src
COPY scripts/bundle.mjs ./scripts/bundle.mjs
RUN npm run build

FROM node:20-bookworm-slim
COPY docker/install-runtime.sh /tmp/install-runtime.sh
RUN /tmp/install-runtime.sh && rm -rf /var/lib/apt/lists/* /tmp/install-runtime.sh
WORKDIR /opt/switchyard
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/dist/bundle ./dist/bundle
COPY bin ./bin
COPY templates ./templates
COPY docker/switchyard.json ./config/switchyard.json
COPY docker/sidecar.sh ./docker/sidecar.sh
# The daemon keeps V8's code cache beside the bundle (bin/switchyard.js): its directory is the user's.
RUN mkdir -p /run/haproxy && chown node:node /run/haproxy ./dist/bundle
USER node
ENV SWITCHYARD_CONFIG=/opt/switchyard/config/switchyard.json
EXPOSE 80 8000
# Liveness, not /health: a degraded daemon (registry down, template refused) still serves the last good config.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:8000/live').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
ENTRYPOINT ["/usr/bin/tini", "--", "/opt/switchyard/docker/sidecar.sh"]
