import { createServer, type Server } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import { listen } from '../lib/listen.js';
import type { IpnRequestHandler } from '../ipn/server.js';
import type { ConsoleAuth } from './auth.js';
import type { ConsoleMetrics } from './metrics.js';
import { serveHealth, serveMetrics } from './metrics-http.js';

export interface ConsoleServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Where the IPN receiver is mounted: Lyra posts here (`--ipn-url https://HOST/ipn`). */
export const IPN_PATH = '/ipn';

/**
 * One HTTP server for `paybatch serve`: /ipn (no login, signed notifications only; it reads the raw Node request),
 * /metrics (bearer token) and /healthz (open) for machines, and the console (hono) for people.
 */
export async function startConsoleServer(o: { app: Hono; ipn: IpnRequestHandler; metrics: ConsoleMetrics; auth: ConsoleAuth; port: number; host: string }): Promise<ConsoleServer> {
  const console = getRequestListener(o.app.fetch);
  const metrics = serveMetrics(o.metrics, o.auth);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === IPN_PATH || path.startsWith(`${IPN_PATH}/`)) return o.ipn(req, res);
    if (path === '/metrics' && req.method === 'GET') return metrics(req, res);
    if (path === '/healthz' && req.method === 'GET') return serveHealth(req, res);
    void console(req, res);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 120_000;
  const { url, port, close } = await listen(server, o.port, o.host);
  return { url, port, close };
}
