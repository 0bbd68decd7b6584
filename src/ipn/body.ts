import type { IncomingMessage } from 'node:http';

export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  readonly code = 'PB_IPN_TOO_LARGE';
  constructor(readonly limit: number) {
    super(`body larger than ${limit} bytes`);
  }
}

/**
 * Reads a request body, refusing it as soon as it passes `limit` bytes (the declared Content-Length is checked
 * first, then the bytes actually received), so a client cannot make the receiver buffer without bound.
 */
export async function readBoundedBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLargeError(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLargeError(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/**
 * The fields of an `application/x-www-form-urlencoded` body, URL-decoded only: `kr-answer` stays the exact string
 * Lyra signed. A field given twice is refused (undefined) rather than guessed.
 */
export function parseFormFields(body: Buffer): Record<string, string> {
  const params = new URLSearchParams(body.toString('utf8'));
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  for (const [k, v] of params) {
    if (seen.has(k)) {
      delete out[k];
      continue;
    }
    seen.add(k);
    out[k] = v;
  }
  return out;
}
