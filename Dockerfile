# paybatch worker image: `paybatch worker` (queue mode) by default; any other paybatch command works too.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# Only what the build needs (no local node_modules, state directories or reports).
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
# `npm ci` runs `prepare`, which compiles src/ to dist/; then the dev tools go.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY samples ./samples
USER node
# SIGTERM (docker stop) drains: in-flight requests finish and are recorded. Give it longer than the HTTP timeout.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/bin/paybatch.js"]
CMD ["worker"]
