# paybatch image: `paybatch worker` (queue mode) by default; any other paybatch command works too.
# Built on the current Node LTS (24); the code itself keeps running on Node 20.19 and newer (package.json engines).
FROM node:24-bookworm-slim AS build
WORKDIR /app
# Only what the build needs (.dockerignore keeps node_modules, .env files and reports out of the build context).
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
# `npm ci` runs `prepare`, which compiles src/ to dist/ (and copies its .lua scripts there); then the dev tools go.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production
# The file ledger (and the IPN journal) live in a volume, not in the container: removing a container must not
# forget which invoices were sent. Mount a named volume there (docker run -v paybatch-state:/var/lib/paybatch).
ENV PAYBATCH_STATE_DIR=/var/lib/paybatch
RUN mkdir -p /var/lib/paybatch && chown node:node /var/lib/paybatch
VOLUME /var/lib/paybatch
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
