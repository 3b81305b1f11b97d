# One image for every role (api, worker, all); the role comes from the command line.
# Node 26 is the Active LTS line (since 2026-10-28; 24 is in maintenance). better-sqlite3
# 12.x declares node 20.x-26.x in its engines and ships prebuilt addons for it.
ARG NODE_IMAGE=node:26-bookworm-slim

# --- build: compilers for better-sqlite3's native addon, dev deps for tsc --------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
# Lockfile first: the dependency layer is reused until package*.json change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# tsconfig.build.json compiles src/ only (no specs, tests, bench or chaos); `mkdir -p
# migrations` because git keeps no empty folder and the runtime stage copies it.
# ui/tsconfig.json compiles the web console's browser scripts into dist/ui.
RUN npx tsc -p tsconfig.build.json && npx tsc -p ui/tsconfig.json \
  && npm prune --omit=dev --no-audit --no-fund \
  && mkdir -p migrations

# --- runtime: node + every driver's tools ------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# qemu driver: qemu-system-x86 (+ KVM when /dev/kvm is passed in), qemu-utils (qemu-img);
# libvirt driver: libvirt-clients (virsh; libvirtd runs on the host or its own container);
# container driver: busybox-static (/bin/busybox seeds generated root filesystems),
# util-linux (unshare, nsenter, mount), runc, e2fsprogs (ext4 volume images);
# dnsmasq-base: DHCP/DNS for VM networks; tini is not needed (compose sets `init: true`).
RUN apt-get update \
  && apt-get install -y --no-install-recommends \
    ca-certificates \
    qemu-system-x86 qemu-utils \
    libvirt-clients \
    busybox-static util-linux runc e2fsprogs \
    dnsmasq-base \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
  DATA_DIR=/data \
  PORT=3000
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/migrations ./migrations
COPY --from=build /app/ui/public ./ui/public
COPY --from=build /app/scripts/healthcheck.mjs ./scripts/healthcheck.mjs
RUN mkdir -p /data && chown node:node /data
# The API needs no privilege; a worker that drives /dev/kvm, namespaces and cgroups runs
# as root (docker-compose.yml sets `user: root` and `privileged` for it).
USER node
# 3000: the API (and its /metrics); 9464: a worker's /metrics (METRICS_PORT, worker role only).
EXPOSE 3000 9464
# Role-aware (scripts/healthcheck.mjs): the API (and `all`) must answer GET /health on
# PORT; a worker serves no HTTP, so its process must be alive and its Redis answer PING.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=4 \
  CMD ["node", "scripts/healthcheck.mjs"]
CMD ["node", "dist/src/main.js"]
