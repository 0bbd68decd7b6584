import { ConfigError, InputError, PaybatchError } from './paybatch-error.js';

/** An error as it crosses a thread boundary: its class, code, exit code and the one-line message, already formatted. */
export interface PackedError {
  kind: 'InputError' | 'ConfigError' | 'PaybatchError' | 'Error';
  code?: string;
  message: string;
  exitCode?: number;
  /** An InputError's file, line and column (its message already names them). */
  where?: InputError['where'];
  stack?: string;
}

export function packError(e: unknown): PackedError {
  if (e instanceof InputError) return { kind: 'InputError', code: e.code, message: e.message, where: e.where };
  if (e instanceof ConfigError) return { kind: 'ConfigError', code: e.code, message: e.message };
  if (PaybatchError.is(e)) return { kind: 'PaybatchError', code: e.code, message: e.message, exitCode: e.exitCode };
  const err = e instanceof Error ? e : new Error(String(e));
  return { kind: 'Error', message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
}

/** The same class on this side, with the message exactly as it was formatted on the other. */
export function unpackError(p: PackedError): Error {
  let e: Error;
  if (p.kind === 'InputError') e = new InputError(p.code!, '', p.where);
  else if (p.kind === 'ConfigError') e = new ConfigError(p.code!, '');
  else if (p.kind === 'PaybatchError') e = new PaybatchError(p.code!, '', p.exitCode);
  else {
    e = new Error(p.message);
    if (p.stack) e.stack = p.stack;
    return e;
  }
  e.message = p.message;
  return e;
}
