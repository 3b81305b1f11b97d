# One image for every role (api, worker, all); the role comes from the command line.

# --- build: compilers for better-sqlite3's native addon, dev deps for tsc --------
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
# Lockfile first: the dependency layer is reused until package*.json change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# Tests stay out of the image; `mkdir -p migrations` because git keeps no empty
# folder and the runtime stage copies it unconditionally.
RUN npm run build \
  && rm -rf dist/test \
  && npm prune --omit=dev --no-audit --no-fund \
  && mkdir -p migrations

# --- runtime: node + what a worker needs to run qemu VMs ----------------------------
FROM node:20-bookworm-slim AS runtime
RUN apt-get update \
  && apt-get install -y --no-install-recommends qemu-system-x86 qemu-utils ca-certificates \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
  DATA_DIR=/data \
  PORT=3000
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/migrations ./migrations
RUN mkdir -p /data && chown node:node /data
# The API needs no privilege; a worker that drives /dev/kvm runs as root (see docker-compose.yml).
USER node
EXPOSE 3000
CMD ["node", "dist/src/main.js"]
