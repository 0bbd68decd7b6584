import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listening {
  port: number;
  /** The host as written in a URL (an IPv6 address in brackets). */
  urlHost: string;
  /** `http://host:port/`. */
  url: string;
  /** Stops accepting, drops idle keep-alive sockets, resolves once every connection ended. */
  close(): Promise<void>;
}

/**
 * Starts `server` listening and resolves once it does (rejects with the listen error: EADDRINUSE …), with the port it
 * got (port 0 picks a free one).
 */
export async function listen(server: Server, port: number, host: string): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    port: addr.port,
    urlHost,
    url: `http://${urlHost}:${addr.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
