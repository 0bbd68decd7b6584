import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Starts `server` listening and resolves once it does (rejects with the listen error: EADDRINUSE …), with the port it
 * got (port 0 picks a free one) and its host as written in a URL (an IPv6 address in brackets).
 */
export async function listen(server: Server, port: number, host: string): Promise<{ port: number; urlHost: string }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  return { port: addr.port, urlHost: addr.family === 'IPv6' ? `[${addr.address}]` : addr.address };
}
