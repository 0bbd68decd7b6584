/**
 * An error meant for the person at the terminal: one line that names the file, line, column or setting to fix.
 * The CLI prints `paybatch: <message>` and exits with `exitCode`; no stack trace.
 */
export class PaybatchError extends Error {
  readonly code: string;
  readonly exitCode: number;

  constructor(code: string, message: string, exitCode = 2) {
    super(message);
    this.name = 'PaybatchError';
    this.code = code;
    this.exitCode = exitCode;
  }

  static is(e: unknown): e is PaybatchError {
    return e instanceof PaybatchError || (typeof e === 'object' && e !== null && typeof (e as PaybatchError).exitCode === 'number' && typeof (e as PaybatchError).code === 'string' && (e as Error).name === 'PaybatchError');
  }
}

/** A file that cannot be read as invoices: names file, line and column where known. Exit 2. */
export class InputError extends PaybatchError {
  constructor(code: string, message: string, readonly where: { file?: string; line?: number; column?: string | number } = {}) {
    super(code, InputError.format(message, where), 2);
  }

  private static format(message: string, where: { file?: string; line?: number; column?: string | number }): string {
    const at = [where.file, where.line !== undefined ? `line ${where.line}` : undefined, where.column !== undefined ? `column ${where.column}` : undefined]
      .filter(Boolean)
      .join(', ');
    return at ? `${at}: ${message}` : message;
  }
}

/** A missing or wrong setting: names the flag or environment variable to fix. Exit 2. */
export class ConfigError extends PaybatchError {
  constructor(code: string, message: string) {
    super(code, message, 2);
  }
}
