import pino, { type Logger } from 'pino';
import { maskPii } from './mask.js';
import { ConfigError } from '../errors/paybatch-error.js';

export type { Logger };

/**
 * The log of long-running processes (worker, IPN receiver): JSON lines on stderr, PII masked, secret-bearing fields
 * removed. Level from PAYBATCH_LOG_LEVEL (fatal … trace, or silent; default info).
 */
export function createLogger(opts: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = (opts.level ?? process.env.PAYBATCH_LOG_LEVEL ?? 'info').trim().toLowerCase();
  if (!(level in pino.levels.values) && level !== 'silent') {
    throw new ConfigError('PB_CONFIG', `PAYBATCH_LOG_LEVEL=${level}: use one of ${[...Object.keys(pino.levels.values), 'silent'].join(', ')}`);
  }
  return pino(
    {
      name: opts.name ?? 'paybatch',
      level,
      redact: {
        paths: ['password', '*.password', 'authorization', '*.authorization', 'headers.authorization', 'config.password'],
        remove: true,
      },
      formatters: {
        log: (obj) => maskObject(obj) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          const masked = args.map((a) => (typeof a === 'string' ? maskPii(a) : a)) as Parameters<typeof method>;
          method.apply(this, masked);
        },
      },
    },
    (opts.destination ?? process.stderr) as pino.DestinationStream,
  );
}

function maskObject(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return maskPii(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => maskObject(v, depth + 1));
  if (value instanceof Error) return { type: value.name, message: maskPii(value.message), code: (value as { code?: unknown }).code };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = maskObject(v, depth + 1);
  return out;
}
