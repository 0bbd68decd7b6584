import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listen, type Listening } from '../lib/listen.js';
import type { ConsoleAuth } from './auth.js';
import type { Metrics } from './metrics.js';

/**
 * GET /metrics for Prometheus: `Authorization: Bearer SECRET` (the console password or the metrics token), checked
 * like a login; without it, 401 and none of the figures.
 */
export function serveMetrics(metrics: Metrics, auth: ConsoleAuth): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const bearer = req.headers.authorization?.match(/^Bearer (.+)$/)?.[1];
    const verdict = bearer ? auth.check(bearer, req.socket.remoteAddress ?? 'unknown', 'metrics') : Promise.resolve('wrong' as const);
    verdict
      .then(async (v) => {
        if (v !== 'ok') {
          res.writeHead(v === 'limited' ? 429 : 401, { 'Content-Type': 'text/plain; charset=utf-8', 'WWW-Authenticate': 'Bearer realm="paybatch metrics"', 'Cache-Control': 'no-store' });
          res.end(v === 'limited' ? 'too many failed attempts\n' : 'give the token: Authorization: Bearer TOKEN\n');
          return;
        }
        const text = await metrics.text();
        res.writeHead(200, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' });
        res.end(text);
      })
      .catch(() => {
        if (res.headersSent) return void res.destroy();
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('metrics unavailable\n');
      });
  };
}

/** GET /healthz: `ok`, open to anyone and saying nothing else (a load balancer's or container's liveness check). */
export function serveHealth(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end('ok\n');
}

/** The small server of `paybatch worker --metrics-port`: /metrics (token) and /healthz, nothing else. */
export async function startMetricsServer(o: { metrics: Metrics; auth: ConsoleAuth; port: number; host: string }): Promise<Listening> {
  const metrics = serveMetrics(o.metrics, o.auth);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'GET' && path === '/metrics') return metrics(req, res);
    if (req.method === 'GET' && path === '/healthz') return serveHealth(req, res);
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('not found: /metrics or /healthz\n');
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return listen(server, o.port, o.host);
}
