# biobank image: `docker build -t biobank .`; the whole system runs with docker-compose.yml.

# Build stage: every dependency, the TypeScript compiler, `npm run build` into dist/.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies only (no tsx, no compiler), the compiled server, the SQL
# migrations and the GraphQL schema it loads at start-up.
FROM node:20-slim AS runtime
# tini as PID 1 reaps zombies and hands signals to the server, its direct child.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
COPY schema.graphql ./
# DATA_DIR holds a generated BIOBANK_SECRET when none is given; replicas must share one, so set
# BIOBANK_SECRET in production (README, Run in production).
RUN mkdir -p /var/lib/biobank && chown node:node /var/lib/biobank
ENV HOST=0.0.0.0 PORT=3000 DATA_DIR=/var/lib/biobank
USER node
EXPOSE 3000
# slim has no curl: Node's own fetch asks the liveness probe.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--max-semi-space-size=64", "dist/main.js", "start"]
