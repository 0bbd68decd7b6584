import { expect } from 'vitest';
import { InputError } from '../../src/errors/paybatch-error.js';

/** The InputError `p` rejects with (the test fails if it resolves or throws anything else). */
export async function failure(p: Promise<unknown>): Promise<InputError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('expected an InputError');
}
