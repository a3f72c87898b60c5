# syntax=docker/dockerfile:1
# Tollgate image: the whole workspace with production dependencies, run by Node 24 directly from
# TypeScript sources. `pnpm deploy` is not used on purpose: it copies workspace packages into
# node_modules, where Node refuses to strip types (ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING).

ARG NODE_VERSION=24.21.0
ARG PNPM_VERSION=12.21.0

FROM node:${NODE_VERSION}-bookworm-slim AS base
ARG PNPM_VERSION
RUN npm install -g "pnpm@${PNPM_VERSION}" && pnpm --version
WORKDIR /app

# Stage 1: fetch every package the lockfile names into pnpm's store; cached until the lockfile changes.
FROM base AS fetch
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN --mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store \
    pnpm fetch --prod

# Stage 2: the workspace with production node_modules, installed offline from that store.
FROM fetch AS build
COPY . .
RUN --mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store \
    pnpm install --offline --frozen-lockfile --prod \
 && rm -rf .git .tollgate

# Stage 3: runtime. No pnpm, no build tools; a non-root user owns only its data folder.
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    TOLLGATE_HOME=/var/lib/tollgate
RUN groupadd --system --gid 10001 tollgate \
 && useradd --system --uid 10001 --gid tollgate --home-dir /var/lib/tollgate --create-home tollgate
WORKDIR /app
COPY --from=build --chown=root:root /app /app
USER tollgate
EXPOSE 3000
VOLUME ["/var/lib/tollgate"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Server + worker + (without DATABASE_URL) embedded Postgres in one container, like `pnpm start`.
# docker-compose.yml runs server and worker as separate services against a real Postgres instead.
CMD ["node", "apps/server/src/main.js"]
