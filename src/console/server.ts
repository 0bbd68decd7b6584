import { createServer, type Server } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import { listen } from '../lib/listen.js';
import type { IpnRequestHandler } from '../ipn/server.js';
import type { ConsoleMetrics } from './metrics.js';

export interface ConsoleServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Where the IPN receiver is mounted: Lyra posts here (`--ipn-url https://HOST/ipn`). */
export const IPN_PATH = '/ipn';

/**
 * One HTTP server for everything `paybatch serve` offers: the IPN receiver under /ipn (no login: it accepts only
 * signed notifications, src/ipn/server.ts), /metrics and /healthz for the machines, and the console (hono) for people.
 * The receiver reads the raw body itself, so it gets the Node request before any framework touches it.
 */
export async function startConsoleServer(o: { app: Hono; ipn: IpnRequestHandler; metrics: ConsoleMetrics; port: number; host: string }): Promise<ConsoleServer> {
  const console = getRequestListener(o.app.fetch);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === IPN_PATH || path.startsWith(`${IPN_PATH}/`)) return o.ipn(req, res);
    if (path === '/metrics' && req.method === 'GET') {
      o.metrics.text().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': o.metrics.contentType, 'Cache-Control': 'no-store' });
          res.end(text);
        },
        () => {
          res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
          res.end('metrics unavailable\n');
        },
      );
      return;
    }
    if (path === '/healthz' && req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok\n');
      return;
    }
    void console(req, res);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 120_000;
  const { url, port, close } = await listen(server, o.port, o.host);
  return { url, port, close };
}
